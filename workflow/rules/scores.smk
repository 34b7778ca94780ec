# Scores stage: cosine scores, top-k lists, ranks and per-seed statistics, one job per shard.


rule score_shard:
    input:
        seeds=f"{RESULTS}/seeds/seeds.parquet",
        corpus=f"{RESULTS}/corpus/corpus.parquet",
        papers=f"{RESULTS}/corpus/papers.parquet",
        vectors=prepared_vector_files(),
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
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/score_shard.py"
