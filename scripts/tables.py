"""Rule script: render the per-seed HTML tables of one shard."""
from seedcompare.logs import logged_step
from seedcompare.render import render_tables

with logged_step(f"tables {snakemake.wildcards.shard}", snakemake.log[0]):
    render_tables(snakemake.input.scores, snakemake.params.methods, snakemake.params.labels,
                  snakemake.params.tables_dir, snakemake.output.manifest)
