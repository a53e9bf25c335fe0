"""Restoration methods, one module per family (imported as bench.methods)."""
