"""No Keras at all: reports, as JSON on stdout, what this process and its
Python children (a subprocess and a multiprocessing 'spawn' worker) see of
memtui's hook."""

import json
import multiprocessing
import os
import subprocess
import sys

PROBE = ("import json, os, sys; b = sys.modules.get('_memtui_hook.boot');"
         " print(json.dumps({'hooked': getattr(b, 'SETTINGS', None) is not None,"
         " 'pythonpath': os.environ.get('PYTHONPATH'), 'var': 'MEMTUI_HOOK' in os.environ}))")


def hooked():
    return getattr(sys.modules.get("_memtui_hook.boot"), "SETTINGS", None) is not None


def worker(queue):
    queue.put({"hooked": hooked(), "var": "MEMTUI_HOOK" in os.environ})


if __name__ == "__main__":
    me = {"hooked": hooked(), "keras": "keras" in sys.modules,
          "tensorflow": "tensorflow" in sys.modules, "pythonpath": os.environ.get("PYTHONPATH"),
          "var": "MEMTUI_HOOK" in os.environ}
    child = json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                                      check=True).stdout)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=worker, args=(queue,))
    proc.start()
    spawned = queue.get(timeout=60)
    proc.join()
    print(json.dumps({"me": me, "child": child, "spawned": spawned}))
