# seedcompare: nearest neighbours of seed papers under two embeddings, compared.
# Stages, in data-flow order: demo -> vectors -> corpus -> seeds -> scores -> summary -> tables/report.
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/demo.smk"
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
