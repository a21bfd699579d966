# The two commands a new machine needs are `make run` and `make test`; everything else is a shortcut.
.PHONY: run test demo bench load load-widget lint format record-cassettes bootstrap

bootstrap:
	bash scripts/bootstrap.sh

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/bootstrap.sh
	.venv/bin/python scripts/demo.py

bench:
	bash scripts/bootstrap.sh
	HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py

load: bootstrap
	.venv-tox/bin/tox -e load

load-widget: bootstrap
	.venv-tox/bin/tox -e load-widget

lint: bootstrap
	.venv-tox/bin/tox -e lint

format: bootstrap
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

record-cassettes: bootstrap
	.venv-tox/bin/tox -e record
