"""One module per `memtui` subcommand: `add_arguments(parser)` and `run(ns) -> int`."""
