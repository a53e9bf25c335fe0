"""The exit statuses a script can rely on (README, "Exit codes")."""
EXIT_OK = 0
EXIT_CELLS_FAILED = 1  # also `bench compare`'s regression and `bench check`'s mismatch
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130
