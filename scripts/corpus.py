"""Rule script: build the corpus id list and the papers table."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import build_corpus

with logged_step("corpus", snakemake.log[0]):
    build_corpus(snakemake.params.vector_dirs, snakemake.params.papers,
                 snakemake.output.corpus, snakemake.output.papers)
