"""What a plugin subclasses: methods, fitted priors, trained methods, datasets and corpora, with the machinery that runs inside a method (the fitting loop, host copies, the precision probe)."""
