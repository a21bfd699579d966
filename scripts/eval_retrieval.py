"""`make eval`: BEIR SciFact (train split) through the running product's REST API, every retrieval mode.

    .venv/bin/python -m scripts.eval_retrieval [--data DIR] [--slice QUERIES OTHERS] [--uploads N]

Starts the real agent (uvicorn) and Django (uvicorn as serve_django.sh runs it, a fresh SQLite file, Celery
eager) on free ports with embedded providers, registers a user, loads every abstract into one bot through
the API (--uploads at a time, as several users would), asks every judged train query through
`POST /api/bots/{id}/search/` (top_k 100, the API's largest) in each mode and prints nDCG@10, recall@10,
recall@50 and recall@100 next to the published figures, the ingestion time and chunks/s, and the search
latency seen by the client.
The data (CC BY-NC 2.0, evaluation only) is read from ../shared/eval/scifact by default; see its README.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from tests.e2e.api import ApiUser
from tests.e2e.scifact import MODES, load_dataset, slice_of
from tests.e2e.scifact import evaluate as evaluate_mode
from tests.e2e.scifact import ingest as ingest_corpus
from testsupport.stack import REPO, AgentServer, DjangoServer, stack_environment

DEFAULT_DATA = REPO.parent / "shared" / "eval" / "scifact"
# Published nDCG@10 on SciFact; MiniLM is MTEB's figure on this train split, BM25 the BEIR paper's (test).
PUBLISHED = {"dense": "0.660 (all-MiniLM-L6-v2, MTEB, train)", "lexical": "0.665 (BM25, BEIR, test)"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR SciFact directory")
    parser.add_argument(
        "--slice",
        type=int,
        nargs=2,
        metavar=("QUERIES", "OTHERS"),
        help="only the first QUERIES judged queries, over their papers and OTHERS unjudged ones",
    )
    parser.add_argument(
        "--uploads",
        type=int,
        default=8,
        help="concurrent uploads: enough to keep the agent's model busy while others wait on HTTP and SQLite",
    )
    args = parser.parse_args()
    dataset = load_dataset(args.data)
    if args.slice:
        dataset = slice_of(dataset, queries=args.slice[0], other_papers=args.slice[1])
    print(f"SciFact: {len(dataset.corpus)} abstracts, {len(dataset.queries)} judged train queries")
    with tempfile.TemporaryDirectory(prefix="chatsphere-eval-") as state:
        state_dir = Path(state)
        database = f"sqlite:///{state_dir / 'chatsphere.sqlite3'}?transaction_mode=IMMEDIATE&timeout=20"
        env = stack_environment(database_url=database, state_dir=state_dir)
        agent = AgentServer(env=env, log_dir=state_dir / "logs")
        # Django with its launcher's own process count, as in production: one process would serialize the
        # concurrent uploads in its one thread for synchronous views.
        django = DjangoServer(
            env=env | {"AGENT_SERVICE_URL": agent.url}, log_dir=state_dir / "logs", workers=None
        )
        try:
            agent.start()
            django.start()
            user = ApiUser.register(base_url=django.url)
            bot_id = user.create_bot(name="SciFact")
            started = time.monotonic()
            ingestion = ingest_corpus(user.client, bot_id=bot_id, corpus=dataset.corpus, workers=args.uploads)
            ingest_s = time.monotonic() - started
            papers = ingestion.papers
            print(
                f"ingested {len(papers)} documents ({ingestion.chunks} chunks) in {ingest_s:.0f} s, "
                f"{args.uploads} uploads at a time: {len(papers) / ingest_s:.1f} docs/s, "
                f"{ingestion.chunks / ingest_s:.1f} chunks/s"
            )
            header = (
                f"{'mode':8} {'nDCG@10':>8} {'R@10':>6} {'R@50':>6} {'R@100':>6} {'p50 ms':>7} {'p95 ms':>7}"
            )
            print(f"{header}  published nDCG@10")
            for mode in MODES:
                result = evaluate_mode(user.client, bot_id=bot_id, dataset=dataset, papers=papers, mode=mode)
                scores = (
                    f"{result.ndcg_at_10:8.3f} {result.recall_at_10:6.3f} {result.recall_at_50:6.3f} "
                    f"{result.recall_at_100:6.3f}"
                )
                latency = f"{result.p50_ms:7.1f} {result.p95_ms:7.1f}"
                print(f"{mode:8} {scores} {latency}  {PUBLISHED.get(mode, '-')}")
            user.close()
        finally:
            django.stop()
            agent.stop()


if __name__ == "__main__":
    main()
