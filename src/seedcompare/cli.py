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


def _make_demo(arguments) -> int:
    from .demo import generate_demo

    generate_demo(arguments.out_dir, n_papers=arguments.papers, n_topics=arguments.topics,
                  n_seeds=arguments.seeds, random_seed=arguments.random_seed)
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

    demo = commands.add_parser("make-demo", help="write the synthetic demo corpus to a folder")
    demo.add_argument("out_dir", help="folder to write papers.parquet, vectors, edges and seeds into")
    demo.add_argument("--papers", type=int, default=3000, help="number of papers (default 3000)")
    demo.add_argument("--topics", type=int, default=12, help="number of topics (default 12)")
    demo.add_argument("--seeds", type=int, default=200, help="number of seeds in seeds.tsv (default 200)")
    demo.add_argument("--random-seed", type=int, default=7, help="random seed (default 7)")
    demo.set_defaults(run=_make_demo)
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
