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
        # scipy's BCa bootstrap holds n_resamples x seeds resampled values and indexes (16 bytes
        # each) and a seeds x seeds jackknife (8 bytes each); seeds <= shard_size x shards.
        # Measured 0.79 GB and 2 s per statistic for 4,000 seeds and 9,999 resamples.
        mem_mb=lambda wildcards, input, attempt: attempt
        * int(
            1000
            + 16 * config["bootstrap"]["n_resamples"] * config["shard_size"] * len(input.per_seed) / 1e6
            + 8 * (config["shard_size"] * len(input.per_seed)) ** 2 / 1e6
        ),
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
