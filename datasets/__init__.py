"""Corpus loaders and the built-in synthetic corpora (imported as bench.datasets)."""
