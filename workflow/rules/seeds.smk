# Seeds stage: deduplicate, check against the corpus, split into shards. A checkpoint, because
# the number of shards is known only once the corpus is read (for example with `seeds: all`).


checkpoint seeds:
    input:
        corpus=f"{RESULTS}/corpus/corpus.parquet",
        seeds_file=seeds_source_files(),
        s2=s2_files("resolved.parquet", "failures.parquet"),
    output:
        seeds=f"{RESULTS}/seeds/seeds.parquet",
    params:
        seeds=config.get("seeds"),
        seeds_file=lambda wildcards, input: input.seeds_file[0] if input.seeds_file else None,
        on_missing_seed=config["on_missing_seed"],
        shard_size=config["shard_size"],
        backend=BACKEND,
    log:
        f"{LOGS}/seeds/seeds.log",
    threads: 1
    resources:
        # The corpus table in pandas: measured 0.22 GB for 100,000 papers.
        mem_mb=lambda wildcards, input, attempt: attempt * int(1000 + 20 * input.size_mb),
        runtime=15,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/seeds.py"
