# Vectors stage: each method's source read once, checked, and stored as vectors.npy + ids.npy.


rule vectors:
    input:
        vector_source_files,
    output:
        vectors=f"{RESULTS}/vectors/{{method}}/vectors.npy",
        ids=f"{RESULTS}/vectors/{{method}}/ids.npy",
        missing=f"{RESULTS}/vectors/{{method}}/missing.parquet",
    params:
        method=lambda wildcards: vector_source(wildcards.method),
        vector_dtype=config["scoring"]["vector_dtype"],
        block_rows=config["scoring"]["block_rows"],
    wildcard_constraints:
        method="|".join(LOCAL_METHOD_NAMES) or "(?!)",
    log:
        f"{LOGS}/vectors/{{method}}.log",
    threads: 1
    resources:
        # The pages of a memory-mapped source and of the output count as resident (0.84 GB for
        # a 300 MB npy source); a jsalt text dump is parsed in memory (about 4x a gzip dump).
        # Each retry (--retries) doubles memory and time.
        mem_mb=lambda wildcards, input, attempt: attempt
        * int(800 + (5 if METHOD_BY_NAME[wildcards.method].format == "jsalt" else 2.5) * input.size_mb),
        runtime=lambda wildcards, input, attempt: attempt * int(10 + input.size_mb / 100),
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/vectors.py"


rule prone:
    input:
        edges=prone_edges_file,
    output:
        vectors=f"{RESULTS}/prone/{{method}}/vectors.npy",
        ids=f"{RESULTS}/prone/{{method}}/ids.npy",
    wildcard_constraints:
        method="|".join(PRONE_METHOD_NAMES) or "(?!)",
    params:
        prone=lambda wildcards: METHOD_BY_NAME[wildcards.method].prone,
    log:
        f"{LOGS}/prone/{{method}}.log",
    threads: 2
    resources:
        # Measured 4.3 GB and 100 s on 2 threads for 1,000,000 nodes / 10,000,000 edges at
        # dimension 128; memory grows with nodes x dimension and edges.
        mem_mb=lambda wildcards, input, attempt: attempt * int(1000 + 250 * input.size_mb),
        runtime=lambda wildcards, input, attempt: attempt * int(10 + input.size_mb),
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/prone.py"
