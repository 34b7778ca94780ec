# Corpus stage: the union of the papers every method lists, and the normalized papers table.


rule corpus:
    input:
        vectors=prepared_vector_files(),
        papers=papers_source_files(),
    output:
        corpus=f"{RESULTS}/corpus/corpus.parquet",
        papers=f"{RESULTS}/corpus/papers.parquet",
    params:
        vector_dirs=prepared_vector_dirs(),
        papers=config.get("papers"),
    log:
        f"{LOGS}/corpus/corpus.log",
    threads: 1
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/corpus.py"
