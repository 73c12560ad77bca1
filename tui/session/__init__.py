"""One run session for every front end: launch, ending, verdict, recovery, relaunch; headless and find-batch."""
