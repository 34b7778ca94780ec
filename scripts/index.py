"""Rule script: render the index page linking every per-seed table."""
from seedcompare.logs import logged_step
from seedcompare.render import render_index

with logged_step("index", snakemake.log[0]):
    render_index(snakemake.input.per_seed, snakemake.input.seeds, list(snakemake.input.manifests),
                 snakemake.params.methods, snakemake.params.labels, snakemake.params.k,
                 "tables", snakemake.output.index, snakemake.params.synthetic)
