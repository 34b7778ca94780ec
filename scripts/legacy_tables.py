"""Rule script: render the imported tables again in the seedcompare format."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import legacy_table_rows
from seedcompare.render import render_tables

with logged_step("legacy_tables", snakemake.log[0]):
    render_tables(legacy_table_rows(snakemake.input.scores, snakemake.input.per_seed),
                  snakemake.params.methods, snakemake.params.labels, snakemake.params.tables_dir,
                  snakemake.output.manifest)
