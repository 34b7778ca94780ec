"""Rule script: build the corpus id list and the papers table."""
from seedcompare.logs import logged_step
from seedcompare.pipeline import build_corpus, s2_corpus_ids

with logged_step("corpus", snakemake.log[0]):
    corpus_ids = s2_corpus_ids(*snakemake.input.s2) if snakemake.input.s2 else None
    build_corpus(snakemake.params.vector_dirs, snakemake.params.papers,
                 snakemake.output.corpus, snakemake.output.papers, corpus_ids)
