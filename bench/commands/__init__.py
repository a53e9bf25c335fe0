"""Sub-commands of `bench` that live in their own modules (see bench.cli.COMMAND_MODULES)."""
