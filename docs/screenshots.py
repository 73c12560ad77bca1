"""Redraw the README's screenshots from the real app on `memtui demo oom`.

Runs the demo's scenario in memtui's own screen, headless at 120×40 (a real
trainer subprocess, a real out-of-memory ending), saves Textual's SVG of the
verdict screen, presses `b`, waits for the relaunch to finish and saves the
second. Each SVG becomes a PNG through rsvg-convert (`apt-get install
librsvg2-bin`), after one fix-up: each text run is split at its spaces and
each braille cell placed on its own. Without it the converter drops the
spaces that open a run ("✗ OUT OF MEMORY  attempt 1" read "OUT OF
MEMORYattempt 1") and draws braille from a proportional fallback font, so the
plots' dots spill out of their cells.

    .venv/bin/python docs/screenshots.py [--out docs] [--size 120x40]
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TEXT = re.compile(r'<text (?P<head>[^>]*?)x="(?P<x>[\d.]+)"(?P<mid>[^>]*?)textLength="(?P<len>[\d.]+)"'
                  r'(?P<tail>[^>]*)>(?P<body>[^<]*)</text>')


# What gets a <text> of its own: each braille cell (the converter's fallback
# font for them is proportional), and each run of other non-space characters.
PIECE = re.compile(r"[\u2800-\u28ff]|[^\s\u2800-\u28ff]+")


def place_each_character(svg: str) -> str:
    """Split every <text> run into pieces at their cells' x: words and bars
    keep their run (and its textLength), braille goes cell by cell, spaces draw
    nothing (the cells' backgrounds are rectangles of their own)."""

    def fix(m: re.Match[str]) -> str:
        chars = html.unescape(m["body"])
        if not chars:
            return m[0]
        x0, width = float(m["x"]), float(m["len"]) / len(chars)
        out = []
        for piece in PIECE.finditer(chars):
            x, length = x0 + piece.start() * width, len(piece[0]) * width
            out.append(f'<text {m["head"]}x="{x:.1f}"{m["mid"]}textLength="{length:.1f}"{m["tail"]}>'
                       f"{html.escape(piece[0], quote=False)}</text>")
        return "".join(out)

    return TEXT.sub(fix, svg)


def to_png(svg_path: Path, png_path: Path) -> None:
    fixed = svg_path.with_suffix(".cells.svg")
    fixed.write_text(place_each_character(svg_path.read_text(encoding="utf-8")), encoding="utf-8")
    subprocess.run(["rsvg-convert", str(fixed), "-o", str(png_path)], check=True)
    fixed.unlink()


async def shoot(out: Path, size: tuple[int, int]) -> list[Path]:
    from tui.cli.commands.demo import has_gpu
    from tui.kinds.oomdemo import oom_scenario
    from tui.session.recovery import Recovery
    from tui.ui.app import MemtuiApp

    scenario = oom_scenario(has_gpu())
    runs = Path(tempfile.mkdtemp(prefix="memtui-shots-"))
    app = MemtuiApp(scenario.config, runs_dir=runs, recovery=Recovery(False))
    shots = []
    async with app.run_test(size=size) as pilot:
        async def until(what: str, ok: object) -> None:
            deadline = time.monotonic() + 300
            while not ok():  # type: ignore[operator]
                if time.monotonic() > deadline:
                    raise SystemExit(f"screenshots: timed out waiting for {what}")
                await pilot.pause(0.5)

        await until("the out-of-memory ending", lambda: app.run_state == "oom")
        await pilot.pause(2.5)  # a few samples after the ending, drawn on the tick
        shots.append(Path(app.save_screenshot(f"demo-oom-{size[0]}x{size[1]}.svg", str(out))))
        await pilot.press("b")
        await until("the relaunch", lambda: app.attempt is not None and app.attempt.number == 2)
        await until("the finished run", lambda: app.run_state == "finished")
        await pilot.pause(2.5)
        shots.append(Path(app.save_screenshot(f"demo-recovered-{size[0]}x{size[1]}.svg", str(out))))
        await pilot.press("q")
    return shots


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--size", default="120x40")
    parser.add_argument("--convert", nargs="*", type=Path, help="only convert these SVGs to PNGs")
    ns = parser.parse_args()
    if ns.convert:
        svgs = ns.convert
    else:
        cols, rows = (int(n) for n in ns.size.lower().split("x"))
        svgs = asyncio.run(shoot(ns.out, (cols, rows)))
    for svg in svgs:
        png = svg.with_suffix(".png")
        to_png(svg, png)
        print(png)
    return 0


if __name__ == "__main__":
    sys.exit(main())
