# The two commands a new machine needs are `make run` and `make test`; everything else is a shortcut.
.PHONY: run test demo bench bench-llm load lint format record-cassettes bootstrap

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

# 100 simultaneous chats against the stand-in LLM (2 s per answer): through Django vs straight to the agent.
bench-llm: bootstrap
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_llm.py

load: bootstrap
	.venv-tox/bin/tox -e load

lint: bootstrap
	.venv-tox/bin/tox -e lint

format: bootstrap
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

record-cassettes: bootstrap
	.venv-tox/bin/tox -e record
