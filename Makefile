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
MUT_STAMP := $(VENV)/.stamp-mutation-$(shell sha256sum tools/mutation/requirements.txt 2>/dev/null | cut -c1-12)

.PHONY: install engines demo test bench bench-accuracy mutate mutate-py mutate-sol clean

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

# Mosquitto (MQTT broker), Chromium (explorer browser tests), promtool and amtool (monitoring config checks, in
# Debian's `prometheus` and `prometheus-alertmanager`) come from Debian's packages, looked up as the tests do
# (tests/parts.py). Without them their tests skip, so the stamp is only written once all are there; with CI set
# (.ci/run) a missing one stops make, as it would fail those tests.
SYS_PARTS := mosquitto chromium promtool amtool
SYS_PKGS := mosquitto chromium prometheus prometheus-alertmanager
$(SYS_STAMP): $(PY_STAMP)
	@missing=$$($(PY) -m tests.parts $(SYS_PARTS)) || exit 1; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYS_PKGS) >/dev/null; \
	  missing=$$($(PY) -m tests.parts $(SYS_PARTS)) || exit 1; \
	fi; \
	fix="apt-get install $$missing as root (make tries it when run as root; promtool is in the prometheus package)"; \
	if [ -z "$$missing" ]; then touch $@; else case "$${CI,,}" in \
	  ""|0|false|no|off) echo "warning: $$missing missing, their tests will skip: $$fix";; \
	  *) echo "error: $$missing missing, and CI=$$CI allows no skips: $$fix" >&2; exit 1;; \
	esac; fi

# The engines of the real-network tests (tests/parts.py "kubo", "geth"), built once from the Go module proxy into
# out/engines/bin (ignored; `make clean` removes it): kubo, and geth v1.13.15, the last release that seals Clique.
# A stamp per version makes it idempotent. Without Go the tests skip locally; with CI set make stops.
# kubo's go.mod replaces go-libp2p with a fork the module proxy does not serve (so `go install kubo@version` fails):
# tools/engines/kubo builds kubo's command as a dependency, where that replace does not apply, pinned by its go.sum.
# geth 1.13's fjl/memsize links to a runtime symbol that Go >= 1.23 hides unless -checklinkname=0.
KUBO_VERSION := v0.43.1
GETH_VERSION := v1.13.15
ENGINES := $(CURDIR)/out/engines
KUBO_STAMP := $(ENGINES)/.stamp-kubo-$(KUBO_VERSION)
GETH_STAMP := $(ENGINES)/.stamp-geth-$(GETH_VERSION)
export FEDPM_KUBO ?= $(ENGINES)/bin/ipfs
export FEDPM_GETH ?= $(ENGINES)/bin/geth

# $(call go_engine,what,build command): run it once with timing, or explain why not
define go_engine
	@mkdir -p $(ENGINES)/bin
	@if ! command -v go >/dev/null; then case "$${CI,,}" in \
	  ""|0|false|no|off) echo "warning: no Go toolchain: $(1) not built, its network tests will skip";; \
	  *) echo "error: no Go toolchain to build $(1), and CI=$$CI allows no skips: install Go" >&2; exit 1;; \
	esac; else \
	  start=$$(date +%s); echo "building $(1) into $(ENGINES)/bin (once)"; \
	  export GOFLAGS=-buildvcs=false; $(2) && touch $@ && echo "built $(1) in $$(( $$(date +%s) - start )) s"; \
	fi
endef

engines: $(KUBO_STAMP) $(GETH_STAMP)

$(KUBO_STAMP): tools/engines/kubo/go.mod tools/engines/kubo/go.sum tools/engines/kubo/main.go
	$(call go_engine,kubo $(KUBO_VERSION),cd tools/engines/kubo && go build -trimpath -o $(ENGINES)/bin/ipfs .)

$(GETH_STAMP):
	$(call go_engine,geth $(GETH_VERSION),GOBIN=$(ENGINES)/bin go install -trimpath -ldflags=-checklinkname=0 github.com/ethereum/go-ethereum/cmd/geth@$(GETH_VERSION))

demo: install
	$(PY) -m fedpm.demo

test: install engines
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

# Mutation testing, not part of `make test`: run it before submitting changes to the pure cores. Reports in
# out/mutation/; fails when a module kills fewer than 90% of its mutants.
mutate: mutate-py mutate-sol

# cosmic-ray over the modules of tools/mutation/python.toml with their fast tests: ~650 mutants, 1-5 s each on 2
# cores depending on load. One module: make mutate-py MUTATE_ARGS="--module merkle" (see run_python.py --help)
mutate-py: $(PY_STAMP) $(MUT_STAMP)
	$(PY) -m tools.mutation.run_python $(MUTATE_ARGS)

$(MUT_STAMP): | $(PY_STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tools/mutation/requirements.txt
	@rm -f $(VENV)/.stamp-mutation-*; touch $@

# Solidity mutants (tools/mutation/solidity_mutants.toml) against the forge tests, then the contract tests;
# report in out/mutation/solidity.{json,md}. About a minute per mutant.
mutate-sol: install
	$(PY) tools/mutation/run_solidity.py

clean:
	rm -rf build out .build .pytest_cache .hypothesis
