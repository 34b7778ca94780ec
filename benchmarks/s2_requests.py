"""Count Semantic Scholar API requests and wall time of an S2 fetch against the local mock.

Runs seedcompare.s2.fetch_run for N seeds of a synthetic demo corpus served by
seedcompare.s2_mock on 127.0.0.1 with a fixed latency per response, twice with the same HTTP
cache: the first run shows the requests per seed and the wall time, the second shows that a
rerun is served from the cache. No request leaves this machine.

    python benchmarks/s2_requests.py --seeds 100 --latency-ms 20
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from seedcompare.demo import generate_demo
from seedcompare.s2 import S2Client, S2Settings, fetch_run
from seedcompare.s2_mock import MockFaults, MockS2Server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="seeds to fetch (default 100)")
    parser.add_argument("--papers", type=int, default=3000, help="papers in the demo corpus (default 3000)")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="mock delay per response in milliseconds (default 20)")
    parser.add_argument("--rps", type=float, default=1000.0,
                        help="client rate limit in requests per second (default 1000, i.e. "
                             "bounded by latency, not by the limit)")
    parser.add_argument("--recommendations", type=int, default=100,
                        help="recommendations per seed (default 100)")
    parser.add_argument("--page-size", type=int, default=1000,
                        help="references/citations per page (default 1000)")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    with tempfile.TemporaryDirectory(prefix="s2-bench-") as scratch:
        scratch = Path(scratch)
        generate_demo(scratch / "corpus", n_papers=arguments.papers, n_seeds=arguments.seeds)
        seeds = pd.read_csv(scratch / "corpus" / "seeds.tsv", sep="\t")["seed"].tolist()
        faults = MockFaults(latency_s=arguments.latency_ms / 1000.0)
        with MockS2Server(scratch / "corpus", faults=faults) as server:
            settings = S2Settings(api_url=server.url, api_key_env="SEEDCOMPARE_BENCHMARK_NO_KEY",
                                  cache=str(scratch / "cache.sqlite"),
                                  requests_per_second=arguments.rps,
                                  recommendations_limit=arguments.recommendations,
                                  page_size=arguments.page_size)
            timings, counts = [], []
            for _ in range(2):
                server.reset()
                started = time.perf_counter()
                with S2Client(settings) as client:
                    run = fetch_run(client, seeds, progress=False)
                timings.append(time.perf_counter() - started)
                counts.append(dict(server.counts))

    first, second = counts
    total = sum(first.values())
    ok = int((run.seeds["status"] == "ok").sum())
    unique_papers = len(set(run.candidates.candidates["corpus_id"]) | set(seeds))
    print(f"command: python {' '.join(sys.argv)}")
    print(f"date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"corpus: {arguments.papers} synthetic papers; seeds: {len(seeds)} ({ok} ok); "
          f"candidate rows: {len(run.candidates.candidates)}; unique papers: {unique_papers}")
    print(f"mock latency: {arguments.latency_ms:g} ms per response; client rate limit: {arguments.rps:g}/s")
    print("requests per endpoint (first run):")
    for endpoint in ("paper_batch", "recommendations", "references", "citations"):
        calls = first.get(endpoint, 0)
        print(f"  {endpoint:16s} {calls:6d}  ({calls / len(seeds):.2f} per seed)")
    print(f"  {'total':16s} {total:6d}  ({total / len(seeds):.2f} per seed); expected batch calls "
          f"ceil({len(seeds)}/500) + ceil({unique_papers}/500) = "
          f"{math.ceil(len(seeds) / 500) + math.ceil(unique_papers / 500)}")
    print(f"wall time, first run: {timings[0]:.2f} s")
    print(f"projected time at the keyed API limit of 1 request/s: about {total / 60:.1f} min")
    print(f"rerun with the same cache: {sum(second.values())} requests, {timings[1]:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
