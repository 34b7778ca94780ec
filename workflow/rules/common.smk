# Configuration checks and the helpers every rule file uses.
import dataclasses
import os

from snakemake.exceptions import WorkflowError

from seedcompare.config import ConfigError, method_specs, validate_config
from seedcompare.pipeline import shard_ids

try:
    config.update(validate_config(config))
except ConfigError as error:
    raise WorkflowError(str(error)) from None

RESULTS = config["results_dir"].rstrip("/")
LOGS = config["logs_dir"].rstrip("/")
METHODS = method_specs(config)
METHOD_NAMES = [method.name for method in METHODS]
METHOD_LABELS = [method.label for method in METHODS]
METHOD_BY_NAME = {method.name: method for method in METHODS}
BACKEND = config["backend"]
# Import mode: existing per-seed tables replace the vectors, seeds and scores stages.
LEGACY_MODE = "legacy_tables" in config
# Methods whose vectors are read from local files by the vectors rule; an "s2" method's
# vectors are written by the s2_papers rule instead.
LOCAL_METHOD_NAMES = [method.name for method in METHODS if method.format != "s2"]
S2_METHOD_NAMES = [method.name for method in METHODS if method.format == "s2"]
PRONE_METHOD_NAMES = [method.name for method in METHODS if method.format == "prone"]
# The report carries a "synthetic data" banner when any input comes from the demo generator.
USES_DEMO_DATA = "legacy_tables" not in config and any(
    path.startswith(f"{RESULTS}/demo/")
    for path in [m.path for m in METHODS]
    + [(config.get("papers") or {}).get("path", ""), config.get("seeds_file", "")]
)


wildcard_constraints:
    method="|".join(METHOD_NAMES),
    shard=r"\d{5}",


def prone_dir(name):
    """Where the prone rule writes the embedding of method ``name``."""
    return f"{RESULTS}/prone/{name}"


def vector_source(name):
    """The MethodSpec read by the vectors stage (for a prone method, the computed embedding)."""
    method = METHOD_BY_NAME[name]
    if method.format == "prone":
        return dataclasses.replace(method, format="npy", path=prone_dir(name))
    return method


def prone_edges_file(wildcards):
    """The edge list of a prone method: a file, or the S2 backend's fetched edges."""
    edges = METHOD_BY_NAME[wildcards.method].edges
    return f"{RESULTS}/s2/edges.parquet" if edges == "s2" else edges


def vector_source_files(wildcards):
    """Input files of one method's vector source."""
    method = vector_source(wildcards.method)
    if method.format == "npy":
        return [f"{method.path}/vectors.npy", f"{method.path}/ids.npy"]
    if method.format == "jsalt_dir":
        names = ["embedding.f", "record_size", "map.old_to_new.i", "map.new_to_old.i"]
        return [f"{method.path}/{name}" for name in names]
    return [method.path]


def prepared_vector_files():
    """Every method's prepared vectors, ids and missing list (the vectors stage outputs)."""
    return expand(
        "{results}/vectors/{method}/{file}",
        results=RESULTS,
        method=METHOD_NAMES,
        file=["vectors.npy", "ids.npy", "missing.parquet"],
    )


def prepared_vector_dirs():
    """Mapping method name -> prepared vectors folder, in config order."""
    return {name: f"{RESULTS}/vectors/{name}" for name in METHOD_NAMES}


def papers_source():
    """The papers table settings: the fetched one with backend s2, else the configured one."""
    if BACKEND == "s2":
        return {"path": f"{RESULTS}/s2/papers.parquet", "format": "parquet"}
    return config.get("papers")


def papers_source_files():
    """The papers table file, or nothing when no metadata is configured."""
    papers = papers_source()
    return [papers["path"]] if papers else []


def s2_files(*names):
    """Outputs of the S2 fetch rules under results/s2/, or nothing with the local backend."""
    return [f"{RESULTS}/s2/{name}" for name in names] if BACKEND == "s2" else []


def seeds_source_files():
    """The configured seeds file, or nothing when seeds are listed in the config."""
    return [config["seeds_file"]] if "seeds_file" in config else []


def shard_outputs(pattern):
    """Expand ``pattern`` over the shards of the seeds checkpoint."""
    seeds_table = checkpoints.seeds.get().output.seeds
    return expand(pattern, shard=[f"{shard:05d}" for shard in shard_ids(seeds_table)])


def table_manifests(wildcards):
    """Manifests of the rendered per-seed tables: one per shard, or one for imported tables."""
    if LEGACY_MODE:
        return [f"{RESULTS}/tables/_shards/legacy.tsv"]
    return shard_outputs(f"{RESULTS}/tables/_shards/shard-{{shard}}.tsv")


def legacy_summary_files():
    """The per-group aggregate and the import report of imported tables, else nothing."""
    if not LEGACY_MODE:
        return []
    return [f"{RESULTS}/summary/aggregate_by_group.parquet", f"{RESULTS}/summary/import_report.json"]


def final_outputs():
    """Targets of ``rule all``."""
    return legacy_summary_files() + [
        f"{RESULTS}/summary/per_seed.parquet",
        f"{RESULTS}/summary/aggregate.parquet",
        f"{RESULTS}/index.html",
        f"{RESULTS}/report.html",
    ]
