# seedcompare: nearest neighbours of seed papers under two embeddings, compared.
# Stages, in data-flow order: demo -> vectors -> corpus -> seeds -> scores -> summary -> tables/report.
from snakemake.utils import min_version

min_version("8.0")


# The demo config is the default; a config given with --configfile replaces it instead of
# being merged into it, so that keys of the demo (seeds_file, papers) do not leak into a run.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# Import mode reads existing per-seed tables in place of the vectors, seeds and scores stages.
if LEGACY_MODE:

    include: "workflow/rules/legacy.smk"

else:

    include: "workflow/rules/demo.smk"
    include: "workflow/rules/s2.smk"
    include: "workflow/rules/vectors.smk"
    include: "workflow/rules/corpus.smk"
    include: "workflow/rules/seeds.smk"
    include: "workflow/rules/scores.smk"
    include: "workflow/rules/summary.smk"


include: "workflow/rules/report.smk"


rule all:
    input:
        final_outputs(),
    default_target: True
