"""seedcompare: compare the nearest neighbours of seed papers under two embeddings."""

__version__ = "0.1.0"
