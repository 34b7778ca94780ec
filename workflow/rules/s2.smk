# Semantic Scholar backend: resolve seed ids, fetch candidates, fetch metadata and embeddings.
# Each rule takes the whole s2_api resource, so with a workflow-level cap of 1 (the default for
# any resource not given on the command line is unlimited; the profiles set `resources: s2_api=1`)
# only one job calls the API at a time and the client's rate limit holds.


rule s2_resolve:
    input:
        seeds_file=seeds_source_files(),
    output:
        resolved=f"{RESULTS}/s2/resolved.parquet",
    params:
        s2=config["s2"],
        seeds=config.get("seeds"),
        seeds_file=lambda wildcards, input: input.seeds_file[0] if input.seeds_file else None,
    log:
        f"{LOGS}/s2_resolve/s2_resolve.log",
    threads: 1
    resources:
        s2_api=1,
        mem_mb=1000,
        runtime=60,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/s2_resolve.py"


rule s2_candidates:
    input:
        resolved=f"{RESULTS}/s2/resolved.parquet",
    output:
        candidates=f"{RESULTS}/s2/candidates.parquet",
        edges=f"{RESULTS}/s2/edges.parquet",
        failures=f"{RESULTS}/s2/failures.parquet",
    params:
        s2=config["s2"],
    log:
        f"{LOGS}/s2_candidates/s2_candidates.log",
    threads: 1
    resources:
        s2_api=1,
        mem_mb=2000,
        runtime=lambda wildcards, input: 60 + 10 * input.size_mb,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/s2_candidates.py"


rule s2_papers:
    input:
        resolved=f"{RESULTS}/s2/resolved.parquet",
        candidates=f"{RESULTS}/s2/candidates.parquet",
        failures=f"{RESULTS}/s2/failures.parquet",
    output:
        papers=f"{RESULTS}/s2/papers.parquet",
        vectors=expand(
            "{results}/vectors/{method}/{file}",
            results=RESULTS,
            method=S2_METHOD_NAMES,
            file=["vectors.npy", "ids.npy", "missing.parquet"],
        ),
    params:
        s2=config["s2"],
        vectors_dir=lambda wildcards, output: os.path.dirname(output.vectors[0]) if output.vectors else None,
    log:
        f"{LOGS}/s2_papers/s2_papers.log",
    threads: 1
    resources:
        s2_api=1,
        mem_mb=lambda wildcards, input: 2000 + 50 * input.size_mb,
        runtime=lambda wildcards, input: 60 + 10 * input.size_mb,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/s2_papers.py"
