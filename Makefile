# fedpm: `make demo` runs the whole story on embedded defaults; `make test` runs the test suite.
# Both install what they need first, idempotently: a venv from requirements.lock, `npm ci` from
# package-lock.json, the solc-js shim for py-solc-x/ape, and (as root) Debian's mosquitto and chromium.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export SOLCX_BINARY_PATH := $(CURDIR)/$(VENV)/solcx
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

PY_STAMP := $(VENV)/.stamp-$(shell cat requirements.lock pyproject.toml 2>/dev/null | sha256sum | cut -c1-12)
NPM_STAMP := node_modules/.stamp-$(shell sha256sum package-lock.json 2>/dev/null | cut -c1-12)
SYS_STAMP := $(VENV)/.stamp-system

.PHONY: install demo test bench bench-accuracy mutate mutate-sol clean

install: $(PY_STAMP) $(NPM_STAMP) $(SYS_STAMP)
	@$(PY) -m chain.toolchain >/dev/null

$(PY_STAMP):
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.stamp-[0-9a-f]*; touch $@

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Mosquitto (MQTT broker) and Chromium (explorer browser tests) come from Debian's packages.
$(SYS_STAMP):
	@if ! command -v mosquitto >/dev/null || ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto chromium >/dev/null) \
	      || echo "warning: could not install mosquitto/chromium; their tests will skip"; \
	  else echo "warning: run as root or install mosquitto and chromium yourself"; fi; \
	fi
	@mkdir -p $(VENV) && touch $@

demo: install
	$(PY) -m fedpm.demo

test: install
	$(PY) -m pytest

# fl_rounds.py --quick: chain + storage overhead and gas; without --quick it adds the accuracy part below
bench: install
	$(PY) bench/fl_rounds.py --quick
	$(PY) bench/sensor_anchoring.py
	$(PY) bench/storage_cid.py

# federated vs centralized vs factory-alone accuracy, 5-fold x 3 seeds x 2 splits: about 40 minutes on 2 cores
bench-accuracy: install
	@mkdir -p out/bench
	$(PY) bench/fl_accuracy.py --plot out/bench/fl_accuracy.png | tee out/bench/fl_accuracy.json

# Mutation testing (not part of `make test`): run it before submitting changes to the mutated files.
mutate: mutate-sol

# Solidity mutants (tools/mutation/solidity_mutants.toml) against the forge tests, then the contract tests;
# report in out/mutation/solidity.{json,md}. About a minute per mutant.
mutate-sol: install
	$(PY) tools/mutation/run_solidity.py

clean:
	rm -rf build out .build .pytest_cache .hypothesis
