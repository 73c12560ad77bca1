"""The durable record of runs: the runs folder, one run's folder, and the facts read from it."""
