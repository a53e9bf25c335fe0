"""The vocabulary every stage shares: audio and STFT helpers, parameters and protocols, the registry, seeds, provenance, files, progress. Imports no other stage."""
