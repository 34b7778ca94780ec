"""Rule script: compute a ProNE embedding of a citation graph."""
from pathlib import Path

from seedcompare.logs import logged_step
from seedcompare.prone import write_prone_embedding

with logged_step(f"prone {snakemake.wildcards.method}", snakemake.log[0]):
    write_prone_embedding(snakemake.input.edges, Path(snakemake.output.vectors).parent,
                          threads=snakemake.threads, **snakemake.params.prone)
