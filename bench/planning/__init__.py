"""From suite files to work: suites, selection flags, cells and training jobs, and their keys."""
