"""The sub-commands of `bench`, one module each with `register(subparsers)` (bench.cli.COMMAND_MODULES); the
flags several share are in `arguments`, the exit codes in `exit_codes`."""
