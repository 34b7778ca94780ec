"""Rule script: fetch each seed's candidates (recommendations, references, citations)."""
from seedcompare.logs import logged_step
from seedcompare.s2_stages import candidates_stage

with logged_step("s2_candidates", snakemake.log[0]):
    candidates_stage(snakemake.params.s2, snakemake.input.resolved, snakemake.output.candidates,
                     snakemake.output.edges, snakemake.output.failures)
