# Import mode: existing per-seed HTML tables become the scores and summary of a run.


rule import_tables:
    input:
        tables=config.get("legacy_tables", []),
    output:
        scores=f"{RESULTS}/scores/legacy.parquet",
        per_seed=f"{RESULTS}/summary/per_seed.parquet",
        aggregate=f"{RESULTS}/summary/aggregate.parquet",
        aggregate_by_group=f"{RESULTS}/summary/aggregate_by_group.parquet",
        files=f"{RESULTS}/summary/import_files.parquet",
        report=f"{RESULTS}/summary/import_report.json",
        seeds=f"{RESULTS}/seeds/seeds.parquet",
    params:
        results_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output.scores)),
        bootstrap=config["bootstrap"],
    log:
        f"{LOGS}/import_tables/import_tables.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/import_tables.py"


rule legacy_tables:
    input:
        scores=f"{RESULTS}/scores/legacy.parquet",
        per_seed=f"{RESULTS}/summary/per_seed.parquet",
    output:
        # The per-seed files <seed>.html are written beside this manifest.
        manifest=f"{RESULTS}/tables/_shards/legacy.tsv",
    params:
        methods=METHOD_NAMES,
        labels=METHOD_LABELS,
        tables_dir=lambda wildcards, output: os.path.dirname(os.path.dirname(output.manifest)),
    log:
        f"{LOGS}/legacy_tables/legacy_tables.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/legacy_tables.py"
