"""Rule script: fetch metadata and embeddings of every seed and candidate."""
from seedcompare.logs import logged_step
from seedcompare.s2_stages import papers_stage

with logged_step("s2_papers", snakemake.log[0]):
    papers_stage(snakemake.params.s2, snakemake.input.resolved, snakemake.input.candidates,
                 snakemake.input.failures, snakemake.output.papers, snakemake.params.vectors_dir)
