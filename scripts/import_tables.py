"""Rule script: import existing per-seed tables into the scores and summary files."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import import_legacy

with logged_step("import_tables", snakemake.log[0]):
    import_legacy(snakemake.input.tables, snakemake.params.results_dir, snakemake.output.seeds,
                  **snakemake.params.bootstrap)
