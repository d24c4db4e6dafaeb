# Everything goes through the venv that scripts/bootstrap.sh makes (VENV, default .venv).
VENV ?= .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install system-deps lock up down status demo test test-fast lint benchmark compose-up compose-down clean \
	mwaa-bundle mwaa-test

install:
	scripts/bootstrap.sh

# Docker Engine, PostgreSQL, Chromium, docker-compose, debootstrap, the registry (see the script).
system-deps:
	scripts/system-deps.sh

lock: install
	$(BIN)/pip freeze --exclude-editable | grep -v '^sdk-campaigns' > constraints.txt

up: system-deps install
	$(BIN)/sdk-campaigns local up

down:
	$(BIN)/sdk-campaigns local down

status:
	$(BIN)/sdk-campaigns local status

demo: system-deps install
	$(BIN)/sdk-campaigns local up --no-ui
	$(BIN)/sdk-campaigns demo $(if $(SDKS),--sdks $(SDKS))

test: system-deps install
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

test-fast: install
	$(BIN)/python -m pytest -ra -m "not stack and not browser and not compose" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The whole deployment in containers (docs/compose.md); needs the secrets in .env.
compose-up: up
	SDK_CAMPAIGNS_CLI=$(abspath $(BIN))/sdk-campaigns images/stack/prepare.sh
	docker-compose up -d --build

compose-down:
	docker-compose down

# The Amazon MWAA bundle in build/mwaa/ (docs/deploying.md, "Amazon MWAA"): dags/, plugins.zip,
# requirements.txt, startup.sh. CONFIG= the campaign config to deploy (default include/campaign.yaml).
mwaa-bundle: install
	$(BIN)/python scripts/mwaa_bundle.py $(if $(CONFIG),--config $(CONFIG))

# The bundle on MWAA's versions (Airflow 3.3.1, providers-amazon 9.34.0) in $(VENV)-mwaa, on the local stack.
mwaa-test: system-deps install
	SDK_CAMPAIGNS_MWAA_VENV=$(abspath $(VENV))-mwaa $(BIN)/python -m pytest -ra tests/mwaa $(PYTEST_ARGS)

# The stack without this home's Airflow: each benchmark starts its own, and an idle UI and scheduler
# beside them would be load in what they measure.
benchmark: system-deps install
	$(BIN)/sdk-campaigns local up --no-ui
	$(BIN)/python benchmarks/run.py

clean: down
	rm -rf .local
