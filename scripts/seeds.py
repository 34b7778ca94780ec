"""Rule script: resolve the seeds and assign shards."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import select_seeds

with logged_step("seeds", snakemake.log[0]):
    select_seeds(snakemake.params.seeds, snakemake.params.seeds_file, snakemake.input.corpus,
                 snakemake.params.on_missing_seed, snakemake.params.shard_size,
                 snakemake.output.seeds)
