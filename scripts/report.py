"""Rule script: render the summary report."""
import json

from seedcompare.logs import logged_step
from seedcompare.render import render_report

with logged_step("report", snakemake.log[0]):
    by_group, import_summary = None, None
    if snakemake.input.legacy:
        by_group, import_report = snakemake.input.legacy
        with open(import_report, encoding="utf-8") as handle:
            import_summary = json.load(handle)["summary"]
    render_report(snakemake.input.per_seed, snakemake.input.aggregate, snakemake.input.seeds,
                  snakemake.input.corpus or None,  # a path, or an empty list in import mode
                  snakemake.params.methods, snakemake.params.labels, snakemake.params.k,
                  snakemake.params.confidence_level, snakemake.output.report,
                  snakemake.params.synthetic, by_group, import_summary)
