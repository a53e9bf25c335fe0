"""bench: a benchmark and evaluation harness for unsupervised audio restoration."""
__version__ = "0.1.0"
