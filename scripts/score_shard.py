"""Rule script: score the seeds of one shard."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import score_shard

with logged_step(f"score_shard {snakemake.wildcards.shard}", snakemake.log[0]):
    score_shard(snakemake.input.seeds, int(snakemake.wildcards.shard), snakemake.input.corpus,
                snakemake.input.papers, snakemake.params.vector_dirs, snakemake.params.k,
                snakemake.output.scores, snakemake.output.per_seed,
                threads=snakemake.threads,
                candidates_path=snakemake.input.candidates[0] if snakemake.input.candidates else None,
                **snakemake.params.scoring)
