# EnterOnce — the two commands a new user needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PERSONS ?= 20000
SEED    ?= 42

# The Dagster instance lives in this folder (dagster.yaml: SQLite storage under data/dagster).
export DAGSTER_HOME := $(CURDIR)
export GX_ANALYTICS_ENABLED := False
export DAGSTER_DISABLE_TELEMETRY := 1
# resource settings (Dagster EnvVar, see assets/resources.py); override on the command line or in the environment
export ENTERONCE_WAREHOUSE ?= data/warehouse
export ENTERONCE_STORAGE_OPTIONS ?= {}
export ENTERONCE_LANDING ?= data/landing
export ENTERONCE_REPORTS ?= data/reports
export ENTERONCE_WEBHOOK_URL ?=
export ENTERONCE_NODES ?= data/nodes.yaml

.PHONY: install lint demo test ui serve screenshots bench bench-run bench-sync bench-api bench-roster bench-address bench-persons clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/enteronce demo run --persons $(PERSONS) --seed $(SEED)
	test -f $(ENTERONCE_NODES) || $(BIN)/enteronce sync init --out $(ENTERONCE_NODES)
	$(BIN)/enteronce sync run

# the import contract in pyproject.toml ([tool.importlinter]): imports go one way
lint: install
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q -n 2

# docs/screenshots/*.png of every workbench page, from the demo lake (after `make demo`)
screenshots: install
	bash scripts/debian-packages.sh --fonts
	$(BIN)/python scripts/screenshots.py --warehouse $(ENTERONCE_WAREHOUSE)

ui: install
	$(BIN)/dagster dev

# the query API on 127.0.0.1:8000 (issue a token first: enteronce tokens issue --level … --code … --role …)
serve: install
	$(BIN)/enteronce serve

bench: install
	$(BIN)/python benchmarks/bench_ingest.py --persons 1000000

bench-run: install
	$(BIN)/python benchmarks/bench_run.py --persons 1000000 --out bench_out/run

# the five-level sync of the 1,000,000-resident district bench-run leaves in bench_out/run
bench-sync: install
	$(BIN)/python benchmarks/bench_sync.py --lake bench_out/run/warehouse --out bench_out/sync

# the query API over that district under a local load; wrk (Debian) generates it
bench-api: install
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python benchmarks/bench_api.py --lake bench_out/run/warehouse --out bench_out/api --workers 2

bench-roster: install
	$(BIN)/python benchmarks/bench_roster.py --lake bench_out/run/warehouse --out bench_out/roster

bench-address: install
	$(BIN)/python benchmarks/bench_address.py --persons 1000000 --addresses 1000000

bench-persons: install
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_persons.py --persons 475000

clean:
	rm -rf data .dagster_home .logs_queue .nux .telemetry history storage logs schedules
