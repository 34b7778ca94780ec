"""Rule script: concatenate per-shard statistics and aggregate them."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import summarize

with logged_step("summary", snakemake.log[0]):
    summarize(list(snakemake.input.per_seed), snakemake.output.per_seed,
              snakemake.output.aggregate, **snakemake.params.bootstrap)
