"""Rule script: resolve the configured seed ids with the S2 API."""
from seedcompare.logs import logged_step
from seedcompare.s2_stages import resolve_stage

with logged_step("s2_resolve", snakemake.log[0]):
    resolve_stage(snakemake.params.s2, snakemake.params.seeds, snakemake.params.seeds_file,
                  snakemake.output.resolved)
