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
    resources:
        # The bootstrap evaluates 500 resamples (or jackknife samples) per call, 16 bytes per
        # seed each; seeds <= shard_size x shards. Measured 0.31 GB for 8,000 seeds.
        mem_mb=lambda wildcards, input, attempt: attempt
        * int(1000 + 16 * 500 * config["shard_size"] * len(input.per_seed) / 1e6),
        runtime=lambda wildcards, input, attempt: attempt
        * int(
            10
            + len(METHOD_NAMES) ** 2
            * config["shard_size"]
            * len(input.per_seed)
            * config["bootstrap"]["n_resamples"]
            / 2e7
        ),
    # The summary, index and report run as one cluster job (the group is ignored locally).
    group:
        "finish"
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/summary.py"
