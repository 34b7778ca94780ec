# Tables and report stage: one HTML table per seed, the index page and the summary report.


rule tables:
    input:
        scores=f"{RESULTS}/scores/shard-{{shard}}.parquet",
    output:
        # The per-seed files <seed>.html are written beside this manifest of the shard.
        manifest=f"{RESULTS}/tables/_shards/shard-{{shard}}.tsv",
    params:
        methods=METHOD_NAMES,
        labels=METHOD_LABELS,
        tables_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output.manifest)),
    log:
        f"{LOGS}/tables/shard-{{shard}}.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, input, attempt: attempt * int(1000 + 20 * input.size_mb),
        runtime=10,
    # Rendered in the cluster job that scored the shard (the group is ignored locally).
    group:
        "shard"
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/tables.py"


rule index:
    input:
        per_seed=f"{RESULTS}/summary/per_seed.parquet",
        seeds=f"{RESULTS}/seeds/seeds.parquet",
        manifests=table_manifests,
    output:
        index=f"{RESULTS}/index.html",
    params:
        methods=METHOD_NAMES,
        labels=METHOD_LABELS,
        k=config["k"],
        synthetic=USES_DEMO_DATA,
    log:
        f"{LOGS}/index/index.log",
    threads: 1
    resources:
        mem_mb=lambda wildcards, input, attempt: attempt * int(1000 + 10 * input.size_mb),
        runtime=15,
    group:
        "finish"
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/index.py"


rule report:
    input:
        per_seed=f"{RESULTS}/summary/per_seed.parquet",
        aggregate=f"{RESULTS}/summary/aggregate.parquet",
        seeds=f"{RESULTS}/seeds/seeds.parquet",
        corpus=[] if LEGACY_MODE else f"{RESULTS}/corpus/corpus.parquet",
        legacy=legacy_summary_files(),
    output:
        report=f"{RESULTS}/report.html",
    params:
        methods=METHOD_NAMES,
        labels=METHOD_LABELS,
        k=config["k"],
        confidence_level=config["bootstrap"]["confidence_level"],
        synthetic=USES_DEMO_DATA,
    log:
        f"{LOGS}/report/report.log",
    threads: 1
    resources:
        # Reads the corpus table as well: measured 0.24 GB for 100,000 papers.
        mem_mb=lambda wildcards, input, attempt: attempt * int(1000 + 10 * input.size_mb),
        runtime=15,
    group:
        "finish"
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/report.py"
