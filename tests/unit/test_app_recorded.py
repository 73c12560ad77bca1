"""No tests here: tests/unit/test_app_snapshots.py imports the recorded runs by this
name (`from test_app_recorded import ...`). They live in tests/recorded.py, one
module; this only hands on the names it uses, so both names give the same
objects. Remove this file once the snapshot tests import `tests.recorded`."""

from tests.recorded import cpu_snapshot, feed_oom, feed_recovery, feed_training, make_app

__all__ = ["cpu_snapshot", "feed_oom", "feed_recovery", "feed_training", "make_app"]
