"""What one redraw of a plot costs: memtui's own braille chart against
textual-plotext drawing the same data, side by side in the same process.

Both draw the memory chart of a long session (three series of 512 points, as
`tui.ui.plotdata` keeps at most) at 60×13 cells, which is the chart's size at
120×40. Two figures each:
- draw: the chart's text alone (memtui: `chart.draw`; plotext: `plt.build()`),
  no Textual;
- frame: a headless Textual app of the chart alone, data changed, then one
  frame painted (what the screen's once-a-second tick pays per chart).
Plus `import plotext`'s time, which a dependency would add to start-up.

textual-plotext is not a dependency of memtui; to measure it, install it
somewhere and point the bench at it:

    pip install --target /tmp/tpx textual-plotext
    .venv/bin/python bench/plot_render.py [--plotext-path /tmp/tpx] [--repeat 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from textual.app import App, ComposeResult  # noqa: E402

from tui.ui.plotdata import CAP, SessionPlots  # noqa: E402
from tui.ui.widgets.chart import draw  # noqa: E402
from tui.ui.widgets.plots import ChartView, memory_chart  # noqa: E402

WIDTH, HEIGHT = 60, 13
MIB = 1 << 20


def session(points: int = CAP, shift: float = 0.0) -> SessionPlots:
    data = SessionPlots()
    data.gpu = True
    data.total = 24 << 30
    for i in range(points):
        t = 1_700_000_000.0 + i
        data.run.add(t, (2000 + 400 * math.sin(i / 40 + shift)) * MIB)
        data.tf.add(t, (1500 + 300 * math.sin(i / 30 + shift)) * MIB)
        data.peak.add(t, (1900 + i) * MIB)
    data.touch()
    return data


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def ours_draw(data: SessionPlots, repeat: int) -> float:
    def once() -> None:
        chart, _ = memory_chart(data)
        draw(chart, WIDTH, HEIGHT)

    return median_ms(once, repeat)


def plotext_draw(plt: Any, data: SessionPlots, repeat: int) -> float:
    def once() -> None:
        plt.clear_figure()
        plt.plotsize(WIDTH, HEIGHT)
        for series in (data.run, data.tf, data.peak):
            plt.plot(series.xs, series.ys, marker="braille")
        plt.hline(data.total)
        plt.build()

    return median_ms(once, repeat)


class One(App[None]):
    def __init__(self, widget: Any) -> None:
        super().__init__()
        self.widget = widget

    def compose(self) -> ComposeResult:
        yield self.widget


async def frames(make: Callable[[], Any], update: Callable[[Any, int], None], repeat: int) -> float:
    widget = make()
    app = One(widget)
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await pilot.pause()
        times = []
        for i in range(repeat):
            t0 = time.perf_counter()
            update(widget, i)
            await pilot.pause()  # one frame: Textual renders what changed
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


async def empty_frames(repeat: int) -> float:
    """The floor: a pause of the pilot with nothing to render."""
    from textual.widgets import Static

    return await frames(lambda: Static("x"), lambda w, i: None, repeat)


def ours_frame(repeat: int) -> float:
    datas = [session(shift=k) for k in range(2)]

    def update(widget: ChartView, i: int) -> None:
        widget.data = datas[i % 2]
        widget.data.touch()
        widget.update()

    return asyncio.run(frames(lambda: ChartView(datas[0], "memory", id="plot-memory"), update, repeat))


def plotext_frame(repeat: int) -> float:
    from textual_plotext import PlotextPlot

    datas = [session(shift=k) for k in range(2)]

    def update(widget: Any, i: int) -> None:
        data = datas[i % 2]
        plt = widget.plt
        plt.clear_figure()
        for series in (data.run, data.tf, data.peak):
            plt.plot(series.xs, series.ys, marker="braille")
        plt.hline(data.total)
        widget.refresh()

    return asyncio.run(frames(PlotextPlot, update, repeat))


def import_ms(path: str | None, module: str, repeat: int = 5) -> float:
    code = (f"import sys; sys.path.append({path!r}); import time; t=time.perf_counter(); import {module}; "
            "print(time.perf_counter()-t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                 cwd=REPO).stdout) for _ in range(repeat)]
    return statistics.median(runs) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plotext-path", help="a folder where textual-plotext is installed")
    parser.add_argument("--repeat", type=int, default=60)
    ns = parser.parse_args()
    if ns.plotext_path:
        sys.path.append(ns.plotext_path)
    data = session()
    floor = asyncio.run(empty_frames(ns.repeat))
    ours = ours_draw(data, ns.repeat), ours_frame(ns.repeat)
    print(f"chart {WIDTH}x{HEIGHT}, 3 series x {CAP} points, median of {ns.repeat}:")
    print(f"  memtui braille chart:  draw {ours[0]:6.2f} ms   frame {ours[1]:6.2f} ms "
          f"(an empty frame: {floor:.2f} ms)")
    try:
        import plotext as plt
    except ImportError:
        print("  textual-plotext: not installed here (see --plotext-path)")
        return 0
    theirs = plotext_draw(plt, data, ns.repeat), plotext_frame(ns.repeat)
    ours_import = import_ms(None, "tui.ui.widgets.chart")
    their_import = import_ms(ns.plotext_path, "plotext")
    print(f"  textual-plotext:       draw {theirs[0]:6.2f} ms   frame {theirs[1]:6.2f} ms")
    print(f"  import: tui.ui.widgets.chart {ours_import:.0f} ms, plotext {their_import:.0f} ms "
          "(what start-up would pay for it, Textual aside)")
    print(f"memtui's chart costs {ours[0] / theirs[0]:.2f}x plotext's to draw and "
          f"{(ours[1] - floor) / max(theirs[1] - floor, 1e-9):.2f}x its frame above an empty one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
