"""Rule script: generate the synthetic demo corpus."""
from pathlib import Path

from seedcompare.demo import generate_demo
from seedcompare.logs import logged_step

with logged_step("make_demo", snakemake.log[0]):
    generate_demo(Path(snakemake.output.papers).parent, **snakemake.params.demo)
