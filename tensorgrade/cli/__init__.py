"""The `tensorgrade` command, one module per group of subcommands."""
