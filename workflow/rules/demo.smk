# Built-in synthetic demo corpus, so the default config runs offline on a fresh clone.


rule make_demo:
    output:
        papers=f"{RESULTS}/demo/papers.parquet",
        specter_vectors=f"{RESULTS}/demo/specter/vectors.npy",
        specter_ids=f"{RESULTS}/demo/specter/ids.npy",
        proposed=f"{RESULTS}/demo/proposed.vec.gz",
        edges=f"{RESULTS}/demo/edges.parquet",
        seeds=f"{RESULTS}/demo/seeds.tsv",
    params:
        demo=config["demo"],
    log:
        f"{LOGS}/make_demo/make_demo.log",
    threads: 1
    resources:
        # Measured 1.5 GB and 95 s for 100,000 papers; both grow with the number of papers.
        mem_mb=1000 + config["demo"]["n_papers"] // 50,
        runtime=10 + config["demo"]["n_papers"] // 20000,
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/make_demo.py"
