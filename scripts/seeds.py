"""Rule script: resolve the seeds and assign shards."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import select_seeds
from seedcompare.s2_stages import seeds_table

with logged_step("seeds", snakemake.log[0]):
    if snakemake.params.backend == "s2":
        resolved, failures = snakemake.input.s2
        table = seeds_table(resolved, failures, snakemake.params.on_missing_seed,
                            snakemake.params.shard_size)
        table.to_parquet(snakemake.output.seeds, index=False)
    else:
        select_seeds(snakemake.params.seeds, snakemake.params.seeds_file, snakemake.input.corpus,
                     snakemake.params.on_missing_seed, snakemake.params.shard_size,
                     snakemake.output.seeds)
