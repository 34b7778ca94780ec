# Scores stage: cosine scores, top-k lists, ranks and per-seed statistics, one job per shard.


rule score_shard:
    input:
        seeds=f"{RESULTS}/seeds/seeds.parquet",
        corpus=f"{RESULTS}/corpus/corpus.parquet",
        papers=f"{RESULTS}/corpus/papers.parquet",
        vectors=prepared_vector_files(),
        candidates=s2_files("candidates.parquet"),
    output:
        scores=f"{RESULTS}/scores/shard-{{shard}}.parquet",
        per_seed=f"{RESULTS}/summary/shards/shard-{{shard}}.parquet",
    params:
        vector_dirs=prepared_vector_dirs(),
        k=config["k"],
        scoring=lambda wildcards: {
            key: config["scoring"][key]
            for key in ("pool_statistics", "seed_batch", "block_rows")
        },
    log:
        f"{LOGS}/score_shard/shard-{{shard}}.log",
    threads: 2
    resources:
        # Memory grows with corpus size x dimension: the interpreters of the job, the tables
        # in pandas, one block of scoring.block_rows rows of the widest method as read and as
        # float64, and with scoring.pool_statistics the float64 pool scores of a seed batch per
        # method (corpus size <= ids.npy bytes / 8). Measured 0.55 GB for 100,000 papers x 832
        # dims; this asks 1.1 GB. Each retry (--retries) doubles memory and time.
        mem_mb=lambda wildcards, input, attempt: attempt
        * int(
            800
            + 5 * sum(os.path.getsize(f) for f in (input.seeds, input.corpus, input.papers)) / 1e6
            + max(
                os.path.getsize(f"{d}/vectors.npy")
                * min(1.0, 8 * config["scoring"]["block_rows"] / os.path.getsize(f"{d}/ids.npy"))
                * (5 if config["scoring"]["vector_dtype"] == "float16" else 3)
                for d in prepared_vector_dirs().values()
            )
            / 1e6
            + config["scoring"]["pool_statistics"]
            * (config["scoring"]["seed_batch"] * len(METHOD_NAMES) + 16)
            * sum(os.path.getsize(f"{d}/ids.npy") for d in prepared_vector_dirs().values())
            / 1e6
        ),
        # Time grows with seeds per shard x corpus size x dimension: measured 1 s per seed per
        # GB of vectors on 2 threads (pool statistics off, the slower path); this allows 10 s.
        runtime=lambda wildcards, input, attempt: attempt
        * int(10 + config["shard_size"] * input.size_mb / 6000),
    # One cluster job scores a shard and renders its tables (the group is ignored locally).
    group:
        "shard"
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/score_shard.py"
