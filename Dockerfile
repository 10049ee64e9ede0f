# fedpm nodes (gateway, trainer, aggregator, explorer) for the consortium network in docker-compose.yml.
# Python dependencies come from the pinned requirements.lock; contracts are compiled at build time (solc-js needs
# Node only here), so the runtime image has no Node and no compiler. Keystores and configuration are mounted at run
# time (docker-compose.yml), never copied in. Runs as an unprivileged user.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN python -m venv /opt/venv && /opt/venv/bin/pip install -r requirements.lock
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY ground ground
COPY chain chain
COPY fl_node fl_node
COPY tasks tasks
COPY fedpm fedpm
COPY contracts contracts
COPY tools/solc-shim.js tools/solc-shim.js
ENV SOLCX_BINARY_PATH=/app/.venv/solcx PATH=/opt/venv/bin:$PATH
RUN python -m chain.toolchain && python -c "from chain.compile import compile_contracts; compile_contracts('paris')"

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/venv/bin:$PATH PYTHONPATH=/app TF_CPP_MIN_LOG_LEVEL=2
RUN groupadd --system --gid 10001 fedpm \
 && useradd --system --uid 10001 --gid fedpm --home-dir /home/fedpm --create-home --shell /usr/sbin/nologin fedpm
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --from=build /app/ground ground
COPY --from=build /app/chain chain
COPY --from=build /app/fl_node fl_node
COPY --from=build /app/tasks tasks
COPY --from=build /app/fedpm fedpm
COPY --from=build /app/contracts contracts
COPY --from=build /app/out/compile out/compile
COPY --from=build /app/node_modules/@openzeppelin/contracts/package.json node_modules/@openzeppelin/contracts/package.json
USER 10001:10001
WORKDIR /home/fedpm
ENTRYPOINT ["python", "-m", "fedpm.cli"]
CMD ["--help"]
