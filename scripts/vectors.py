"""Rule script: read one method's vector source and write the prepared vectors."""
from pathlib import Path

from seedcompare.logs import logged_step
from seedcompare.pipeline import prepare_vectors

with logged_step(f"vectors {snakemake.wildcards.method}", snakemake.log[0]):
    prepare_vectors(snakemake.params.method, Path(snakemake.output.vectors).parent,
                    snakemake.params.vector_dtype, snakemake.params.block_rows)
