"""memtui, the monitor process. Never imports TensorFlow (see ARCHITECTURE)."""

__version__ = "0.1.0"
