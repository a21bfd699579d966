# The two commands a new machine needs are `make run` and `make test`; everything else is a shortcut.
.PHONY: run test demo bench bench-agent bench-llm bench-llm-clients eval load load-widget fuzz-deep lint format record-cassettes bootstrap

bootstrap:
	bash scripts/bootstrap.sh

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/bootstrap.sh
	.venv/bin/python scripts/demo.py

# The chat path on the real servers, every row of issue 13's table (docs/benchmarks.md), ~3 min.
bench:
	bash scripts/bootstrap.sh
	HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_stack.py

# The agent in-process: embedding throughput, Chroma recall and latency at 10k/100k, /chat (~4 min).
bench-agent:
	bash scripts/bootstrap.sh
	HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_agent.py

eval:
	bash scripts/bootstrap.sh
	HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python -m scripts.eval_retrieval

# 100 simultaneous chats against the stand-in LLM (2 s per answer): through Django vs straight to the agent.
bench-llm: bootstrap
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False .venv/bin/python scripts/bench_llm.py

# CPU per streamed answer: the agent's OpenAI-compatible client against LangChain's and openai's (~1 min).
bench-llm-clients: bootstrap
	HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_llm_clients.py

load: bootstrap
	.venv-tox/bin/tox -e load

# Both fuzz envs (in-process, and the CLI against real servers) with 200 examples per operation instead of
# CI's budget (fuzz/FINDINGS.md has its figures).
fuzz-deep: bootstrap
	FUZZ_MAX_EXAMPLES=200 .venv-tox/bin/tox -e fuzz,fuzz-cli

load-widget: bootstrap
	.venv-tox/bin/tox -e load-widget

lint: bootstrap
	.venv-tox/bin/tox -e lint

format: bootstrap
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

record-cassettes: bootstrap
	.venv-tox/bin/tox -e record
