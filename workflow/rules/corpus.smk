# Corpus stage: the union of the papers every method lists, and the normalized papers table.


rule corpus:
    input:
        vectors=prepared_vector_files(),
        papers=papers_source_files(),
        s2=s2_files("resolved.parquet", "candidates.parquet"),
    output:
        corpus=f"{RESULTS}/corpus/corpus.parquet",
        papers=f"{RESULTS}/corpus/papers.parquet",
    params:
        vector_dirs=prepared_vector_dirs(),
        papers=papers_source(),
    log:
        f"{LOGS}/corpus/corpus.log",
    threads: 1
    resources:
        # Reads the id lists, missing lists and papers table, never the vectors themselves:
        # measured 0.31 GB for 100,000 papers (7.5 MB of such files).
        mem_mb=lambda wildcards, input, attempt: attempt
        * int(
            1000
            + 20
            * sum(
                os.path.getsize(f)
                for f in [*input.vectors, *input.papers]
                if os.path.basename(f) != "vectors.npy"
            )
            / 1e6
        ),
        runtime=30,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/corpus.py"
