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
    conda:
        "../envs/seedcompare.yaml"
    script:
        "../../scripts/make_demo.py"
