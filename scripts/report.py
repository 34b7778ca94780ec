"""Rule script: render the summary report."""
from seedcompare.logs import logged_step
from seedcompare.render import render_report

with logged_step("report", snakemake.log[0]):
    render_report(snakemake.input.per_seed, snakemake.input.aggregate, snakemake.input.seeds,
                  snakemake.input.corpus,
                  snakemake.params.methods, snakemake.params.labels, snakemake.params.k,
                  snakemake.params.confidence_level, snakemake.output.report,
                  snakemake.params.synthetic)
