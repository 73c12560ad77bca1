"""Where memtui's start-up goes before its first frame: the marginal import
time of each part, in the order the `memtui` command imports them, after
Textual itself (what a bare Textual app imports too). Fresh interpreters, the
fastest of --repeat runs per part, so a busy machine weighs little.

    .venv/bin/python bench/startup_imports.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# In import order: each step's time is what it adds over the steps before it.
STEPS = [
    ("textual.app, textual.widgets (a bare Textual app's share)", "textual.app, textual.widgets"),
    ("trainer.config (RunConfig, the trainer's flags)", "trainer.config"),
    ("tui.cli", "tui.cli"),
    ("tui.cli.options -> tui.telemetry.sampler -> psutil", "tui.cli.options"),
    ("tui.cli.commands.run", "tui.cli.commands.run"),
    ("tui.ui.keyrules (kinds, remedies table)", "tui.ui.keyrules"),
    ("tui.ui.widgets (steplog, history, memory, verdict)", "tui.ui.widgets.steplog, tui.ui.widgets.history, "
     "tui.ui.widgets.memory, tui.ui.widgets.verdict, tui.ui.widgets.header, tui.ui.widgets.footer"),
    ("tui.ui.widgets.plots (charts, plot data)", "tui.ui.widgets.plots"),
    ("tui.ui.app (the rest: screens, themes, keys)", "tui.ui.app"),
]
PROBE = """
import json, sys, time
out = []
for mods in json.loads(sys.argv[1]):
    t = time.perf_counter()
    exec("import " + mods)
    out.append(time.perf_counter() - t)
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    ns = parser.parse_args()
    mods = [m for _, m in STEPS]
    runs = [json.loads(subprocess.run([sys.executable, "-c", PROBE, json.dumps(mods)], capture_output=True,
                                      text=True, check=True, cwd=REPO).stdout) for _ in range(ns.repeat)]
    best = [min(r[i] for r in runs) * 1000 for i in range(len(STEPS))]
    for (label, _), ms in zip(STEPS, best, strict=True):
        print(f"  {ms:6.1f} ms  {label}")
    print(f"memtui's own imports: {sum(best[1:]):.0f} ms on top of Textual's {best[0]:.0f} ms "
          f"(fastest of {ns.repeat} fresh interpreters each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
