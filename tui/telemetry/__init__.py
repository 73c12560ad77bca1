"""GPU and host telemetry: NVML and psutil readings as immutable snapshots.

Imports no Textual: the screen, the headless runner and `memtui status` share it.
"""
