"""Starting, following and stopping the processes of a run (supervisor, reaper, watch).

Imports nothing: `python -m tui.supervision.reaper` must start fast."""
