# Vectors stage: each method's source read once, checked, and stored as vectors.npy + ids.npy.


rule vectors:
    input:
        vector_source_files,
    output:
        vectors=f"{RESULTS}/vectors/{{method}}/vectors.npy",
        ids=f"{RESULTS}/vectors/{{method}}/ids.npy",
        missing=f"{RESULTS}/vectors/{{method}}/missing.parquet",
    params:
        method=lambda wildcards: METHOD_BY_NAME[wildcards.method],
        vector_dtype=config["scoring"]["vector_dtype"],
        block_rows=config["scoring"]["block_rows"],
    log:
        f"{LOGS}/vectors/{{method}}.log",
    threads: 1
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/vectors.py"
