"""The ``seedcompare`` command: helpers around the Snakemake workflow."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from .config import ConfigError, load_config
from .corpus import InputDataError
from .logs import configure_logging

log = logging.getLogger(__name__)


def _check_config(arguments) -> int:
    config = load_config(arguments.config)
    print(json.dumps(config, indent=2))
    print(f"{arguments.config}: valid", file=sys.stderr)
    return 0


def _top_k(arguments) -> int:
    from .seeds import read_seeds_file
    from .topk import write_neighbours

    from threadpoolctl import threadpool_limits

    seeds = read_seeds_file(arguments.seeds)
    with threadpool_limits(limits=arguments.threads):
        written = write_neighbours(arguments.embedding, seeds, arguments.k, arguments.out,
                                   block_rows=arguments.block_rows)
    print(f"{arguments.out}: top-{arguments.k} neighbours of {written} seed(s)", file=sys.stderr)
    return 0


def _s2_mock(arguments) -> int:
    from .s2_mock import run_mock_server

    return run_mock_server(arguments.corpus, port=arguments.port, latency_ms=arguments.latency_ms,
                           transient_fraction=arguments.transient_fraction)


def _make_demo(arguments) -> int:
    from .demo import generate_demo

    generate_demo(arguments.out_dir, n_papers=arguments.papers, n_topics=arguments.topics,
                  n_seeds=arguments.seeds, random_seed=arguments.random_seed)
    return 0


def _prone(arguments) -> int:
    from .prone import write_prone_embedding

    try:
        out_dir = write_prone_embedding(arguments.edges, arguments.out_dir, dim=arguments.dim,
                                        order=arguments.order, mu=arguments.mu,
                                        theta=arguments.theta, random_seed=arguments.seed)
    except ValueError as error:  # a parameter out of range, or unusable edges (InputDataError)
        print(f"seedcompare: error: {error}", file=sys.stderr)
        return 2
    print(f"{out_dir}: vectors.npy + ids.npy written", file=sys.stderr)
    return 0


def _import_tables(arguments) -> int:
    from .legacy import MISSING_SENTINEL, import_tables, write_import

    result = import_tables(arguments.directory,
                           missing_sentinel=None if arguments.keep_minus_one else MISSING_SENTINEL)
    write_import(result, arguments.out_dir, n_resamples=arguments.bootstrap_resamples)
    print(result.summary.line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``seedcompare`` command."""
    parser = argparse.ArgumentParser(
        prog="seedcompare",
        description="Compare the nearest neighbours of seed papers under two embeddings. "
                    "The full pipeline runs with `snakemake --cores 8` from the repository root.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check-config", help="validate a config file and print it with defaults filled in")
    check.add_argument("config", help="path to a YAML config file")
    check.set_defaults(run=_check_config)

    topk = commands.add_parser(
        "topk", help="write the exact cosine top-k neighbours of seeds in one embedding",
        description="Write the exact cosine top-k neighbours of each seed in one embedding to a "
                    "Parquet file (seed, corpus_id, score, rank). Ties go to the smaller corpus id.")
    topk.add_argument("--embedding", required=True,
                      help="folder with vectors.npy + ids.npy, or a JSALT folder with embedding.f")
    topk.add_argument("--seeds", required=True, help="TSV file with a header row and a 'seed' column")
    topk.add_argument("-k", type=int, default=10, help="neighbours per seed (default 10)")
    topk.add_argument("--out", required=True, help="Parquet file to write: seed, corpus_id, score, rank")
    topk.add_argument("--block-rows", type=int, default=16384,
                      help="corpus rows read and multiplied at a time; bounds memory (default 16384)")
    topk.add_argument("--threads", type=int, default=None,
                      help="BLAS threads for the matrix products (default: all cores)")
    topk.set_defaults(run=_top_k)

    demo = commands.add_parser("make-demo", help="write the synthetic demo corpus to a folder")
    demo.add_argument("out_dir", help="folder to write papers.parquet, vectors, edges and seeds into")
    demo.add_argument("--papers", type=int, default=3000, help="number of papers (default 3000)")
    demo.add_argument("--topics", type=int, default=12, help="number of topics (default 12)")
    demo.add_argument("--seeds", type=int, default=200, help="number of seeds in seeds.tsv (default 200)")
    demo.add_argument("--random-seed", type=int, default=7, help="random seed (default 7)")
    demo.set_defaults(run=_make_demo)

    prone = commands.add_parser(
        "prone", help="compute a ProNE embedding of a citation graph (the 'proposed' method)")
    prone.add_argument("edges", help="edge list: Parquet with int64 columns citing, cited, or text "
                                     "lines 'u v' (whitespace or tab separated, '#' comments)")
    prone.add_argument("out_dir", help="folder to write vectors.npy (float32) and ids.npy (int64) into")
    prone.add_argument("--dim", type=int, default=128,
                       help="embedding dimension (default 128; the JSALT embedding used 280)")
    prone.add_argument("--order", type=int, default=10,
                       help="Chebyshev expansion order of the spectral propagation; 1 skips it (default 10)")
    prone.add_argument("--mu", type=float, default=0.2,
                       help="centre of the band-pass filter on the Laplacian spectrum (default 0.2)")
    prone.add_argument("--theta", type=float, default=0.5,
                       help="width of the band-pass filter, the Bessel argument (default 0.5)")
    prone.add_argument("--seed", type=int, default=0,
                       help="random seed of the randomized SVD; equal seeds give equal vectors (default 0)")
    prone.set_defaults(run=_prone)

    legacy = commands.add_parser(
        "import-tables", help="import existing per-seed HTML tables into Parquet scores and statistics")
    legacy.add_argument("directory",
                        help="folder searched recursively for <seed>.md or <seed>.html tables; "
                             "the first subfolder of a table names its group")
    legacy.add_argument("out_dir", help="folder to write scores/legacy.parquet and summary/ into")
    legacy.add_argument("--keep-minus-one", action="store_true",
                        help="keep scores of exactly -1.000000 as values; by default they are read "
                             "as missing, the marker older table writers used for a paper without a vector")
    legacy.add_argument("--bootstrap-resamples", type=int, default=9999,
                        help="bootstrap resamples for the confidence intervals (default 9999)")
    legacy.set_defaults(run=_import_tables)

    mock = commands.add_parser(
        "s2-mock", help="serve a local mock of the Semantic Scholar API on 127.0.0.1 (Ctrl-C stops)")
    mock.add_argument("--port", type=int, default=8765,
                      help="TCP port on 127.0.0.1; 0 picks a free one (default 8765)")
    mock.add_argument("--corpus", default=None,
                      help="demo corpus folder (from make-demo) to serve; default: generate one")
    mock.add_argument("--latency-ms", type=float, default=0.0,
                      help="delay added to every response, in milliseconds (default 0)")
    mock.add_argument("--transient-fraction", type=float, default=0.0,
                      help="fraction of requests that get status 503, seeded (default 0)")
    mock.set_defaults(run=_s2_mock)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    arguments = build_parser().parse_args(argv)
    configure_logging()
    try:
        return arguments.run(arguments)
    except (ConfigError, InputDataError) as error:
        print(f"seedcompare: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
