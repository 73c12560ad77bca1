"""The real `memtui` screen, which on exit writes how the step log's newest-step
row was painted to the file named by PAINT_PROBE_OUT: {"swaps": N, "renders": N}.

Run in tmux by tests/e2e/test_screen_rowpaint.py as `python -m tests.paint_probe
[memtui options]`. It only observes: the app is memtui's own, with two lines
added: on ready and on unmount.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import tui.ui.app
from tui.cli import main


class ProbedApp(tui.ui.app.MemtuiApp):
    CSS_PATH = str(Path(tui.ui.app.__file__).with_name("app.tcss"))  # Textual reads it beside the subclass's module

    # Textual calls every class's handler along the MRO, MemtuiApp's after these:
    # calling super() here as well launched the run twice.
    def on_ready(self) -> None:
        self.probed = self.main.steplog.painter  # the screens are gone by unmount

    def on_unmount(self) -> None:
        painter = self.probed
        with open(os.environ["PAINT_PROBE_OUT"], "w", encoding="utf-8") as out:
            json.dump({"swaps": painter.swaps, "renders": painter.renders}, out)


tui.ui.app.MemtuiApp = ProbedApp  # type: ignore[misc]  # what `memtui` opens, via tui.cli.commands.run

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
