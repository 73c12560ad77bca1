"""Imported by a spare as its warm-up (MEMTUI_SPARE_WARM): it never finishes, like a hung import."""

import time

time.sleep(3600)
