# Summary stage: per-seed statistics of every shard in one table, aggregated over seeds.


rule summary:
    input:
        per_seed=lambda wildcards: shard_outputs(
            f"{RESULTS}/summary/shards/shard-{{shard}}.parquet"
        ),
    output:
        per_seed=f"{RESULTS}/summary/per_seed.parquet",
        aggregate=f"{RESULTS}/summary/aggregate.parquet",
    params:
        bootstrap=config["bootstrap"],
    log:
        f"{LOGS}/summary/summary.log",
    threads: 1
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/summary.py"
