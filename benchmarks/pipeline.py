"""End-to-end benchmark: the Snakemake workflow on a generated corpus.

Usage:
    python benchmarks/pipeline.py [--papers 100000] [--seeds 1000] [--cores 2]
                                  [--shard-size 250] [--work-dir /tmp/seedcompare-e2e]
                                  [--no-pool-statistics]

Writes a random corpus (topics, a 768-d text-like and a 128-d graph-like embedding in the npy
format, a papers table, a seeds file) to --work-dir, runs `snakemake --cores N` there, and
prints the wall time, the number of jobs and the peak resident memory of the largest job
(GNU time's maximum resident set size over the process tree).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def make_corpus(work_dir: Path, n_papers: int, n_seeds: int) -> None:
    rng = np.random.default_rng(0)
    ids = 100_000_000 + np.arange(n_papers, dtype=np.int64) * 7
    topics = rng.integers(0, 50, size=n_papers)
    latent = rng.normal(size=(50, 32))[topics] + 0.7 * rng.normal(size=(n_papers, 32))
    for name, dim, noise in (("text", 768, 2.0), ("graph", 128, 1.0)):
        folder = work_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        vectors = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+", dtype=np.float32,
                                            shape=(n_papers, dim))
        projection = rng.normal(size=(32, dim))
        for start in range(0, n_papers, 20_000):
            stop = min(n_papers, start + 20_000)
            vectors[start:stop] = latent[start:stop] @ projection + noise * rng.normal(size=(stop - start, dim))
        vectors.flush()
        del vectors
        np.save(folder / "ids.npy", ids)
    pd.DataFrame({"corpus_id": ids, "title": [f"Generated paper {i}" for i in range(n_papers)],
                  "citation_count": rng.poisson(5, size=n_papers)}).to_parquet(work_dir / "papers.parquet")
    seeds = np.sort(rng.choice(ids, size=n_seeds, replace=False))
    pd.DataFrame({"seed": seeds}).to_csv(work_dir / "seeds.tsv", sep="\t", index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, default=1000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--work-dir", default="/tmp/seedcompare-e2e")
    parser.add_argument("--no-pool-statistics", action="store_true")
    arguments = parser.parse_args()

    work_dir = Path(arguments.work_dir)
    if work_dir.exists():
        subprocess.run(["rm", "-rf", str(work_dir)], check=True)
    work_dir.mkdir(parents=True)
    make_corpus(work_dir, arguments.papers, arguments.seeds)
    config = {
        "seeds_file": "seeds.tsv",
        "k": 10,
        "shard_size": arguments.shard_size,
        "papers": {"path": "papers.parquet"},
        "methods": {"specter": {"format": "npy", "path": "text", "label": "Specter"},
                    "proposed": {"format": "npy", "path": "graph", "label": "Proposed"}},
        "scoring": {"pool_statistics": not arguments.no_pool_statistics},
        "bootstrap": {"n_resamples": 9999},
    }
    (work_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake = str(Path(sys.executable).parent / "snakemake")
    command = ["/usr/bin/time", "-v", snakemake, "--cores", str(arguments.cores), "--snakefile",
               str(REPO_ROOT / "Snakefile"), "--directory", str(work_dir), "--configfile",
               str(work_dir / "config.yaml")]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    output = completed.stdout + completed.stderr
    if completed.returncode != 0:
        print(output[-4000:])
        raise SystemExit(f"snakemake failed with exit code {completed.returncode}")
    steps = re.findall(r"(\d+) of (\d+) steps", output)
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", output)
    print(f"{arguments.papers} papers, {arguments.seeds} seeds, shard_size {arguments.shard_size}, "
          f"--cores {arguments.cores}, pool statistics {'off' if arguments.no_pool_statistics else 'on'}")
    print(f"wall time {seconds:.1f} s, jobs {steps[-1][1] if steps else '?'}, "
          f"peak RSS of the largest job {int(peak.group(1)) / 1024:.0f} MiB" if peak else "")


if __name__ == "__main__":
    main()
