"""Every private Textual name memtui relies on, behind small named functions.

Targets Textual 8.2 (TEXTUAL_TARGET; pyproject.toml pins textual>=8.2,<8.3).
Nothing else in memtui reads or overrides a Textual name that starts with an
underscore: the widgets call the functions here.

Why there are any: two of the hot path's savings (docs/DESIGN.md) cannot be had
through Textual's public API. The step log's newest-step row is painted
straight to the terminal (`tui/ui/widgets/rowpaint.py`), which needs the
compositor's map, the widget's styles cache and the driver; and the step log
keeps its lines as plain strips and skips Log's width worker
(`tui/ui/widgets/steplog.py`), which needs two of Log's private hooks.

A Textual release can move any of this without a word. `problems` checks, on
live objects, that each name is there with the shape used here; a widget that
gets a non-empty answer uses plain Textual rendering instead (the row painter
never paints, the log renders its lines Log's way), which looks the same and
costs more. `tests/unit/test_textual_internals.py` runs the check against the
installed Textual and runs the widgets with it forced to fail.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.style import Style
from textual.driver import Driver
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Log

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen

TEXTUAL_TARGET = "8.2"

log = logging.getLogger(__name__)
_reported: set[tuple[str, ...]] = set()  # what `usable` has logged already

# Methods whose parameters are relied on, as (owner, name, parameter names after self/cls).
_SIGNATURES: tuple[tuple[type, str, tuple[str, ...]], ...] = (
    (Log, "_render_line_strip", ("y", "rich_style")),
    (Log, "_update_size", ("updates", "lines")),
    (Log, "_process_line", ("line",)),
    (Widget, "_scroll_update", ("virtual_size",)),
    (Driver, "write", ("data",)),
    (Driver, "flush", ()),
)


def _parameters(function: Any) -> tuple[str, ...]:
    names = tuple(inspect.signature(inspect.unwrap(function)).parameters)
    return names[1:] if names[:1] in (("self",), ("cls",)) else names


def _check(problems: list[str], owner: object, name: str, kind: type | tuple[type, ...]) -> Any:
    """Note a problem unless `owner.name` is an instance of `kind`; the value, or None."""
    label = f"{type(owner).__name__}.{name}"
    if not hasattr(owner, name):
        problems.append(f"{label} is gone")
        return None
    value = getattr(owner, name)
    if not isinstance(value, kind):
        problems.append(f"{label} is {type(value).__name__}, not {kind}")
        return None
    return value


def problems(widget: Widget) -> list[str]:
    """What is not where this module expects it, checked on a mounted `widget`
    (a Log for the log hooks); empty when every function here is safe."""
    found: list[str] = []
    for owner, name, params in _SIGNATURES:
        method = getattr(owner, name, None)
        if not callable(method):
            found.append(f"{owner.__name__}.{name} is gone")
        elif _parameters(method) != params:
            found.append(f"{owner.__name__}.{name}{_parameters(method)} is not ({', '.join(params)})")
    app, screen = widget.app, widget.screen
    _check(found, app, "_driver", (Driver, type(None)))
    _check(found, app, "_batch_count", int)
    _check(found, app, "_running", bool)
    _check(found, app, "_sync_available", bool)
    _check(found, screen, "_layout_required", bool)
    compositor = _check(found, screen, "_compositor", object)
    if compositor is not None:
        for name in ("visible_widgets", "layers_visible"):
            if not isinstance(getattr(type(compositor), name, None), property):
                found.append(f"Compositor.{name} is not a property")
    cache = _check(found, widget, "_styles_cache", object)
    if cache is not None:
        _check(found, cache, "_cache", dict)
        _check(found, cache, "_dirty_lines", set)
        _check(found, cache, "_width", int)
        if not callable(getattr(cache, "set_dirty", None)):
            found.append("StylesCache.set_dirty is gone")
    if isinstance(widget, Log):
        lines = _check(found, widget, "_render_line_cache", object)
        if lines is not None and not all(callable(getattr(lines, n, None)) for n in ("get", "__setitem__")):
            found.append("Log._render_line_cache is not a mapping")
        _check(found, widget, "_lines", list)
    return found


def usable(widget: Widget) -> bool:
    """True when this module's functions are safe for `widget` (see `problems`);
    otherwise says why, once, in the log."""
    found = problems(widget)
    if found and tuple(found) not in _reported:
        _reported.add(tuple(found))
        log.warning("Textual %s is not what memtui targets (%s): plain rendering. %s",
                    _installed(), TEXTUAL_TARGET, "; ".join(found))
    return not found


def _installed() -> str:
    from importlib.metadata import version

    return version("textual")


# --- the row painter (tui/ui/widgets/rowpaint.py) ---------------------------


def frame_settled(app: App[Any], screen: Screen[Any]) -> bool:
    """True when the app runs with a driver, no `batch_update` is open and the
    screen's layout is done: the compositor's map is what is on the terminal."""
    return (app._driver is not None and not app._batch_count and not screen._layout_required
            and app._running)


def placement(screen: Screen[Any], widget: Widget) -> tuple[Region, Region] | None:
    """The widget's region and clip in the screen's map; None when not placed."""
    return screen._compositor.visible_widgets.get(widget)


def widgets_on_row(screen: Screen[Any], y: int) -> Sequence[tuple[Widget, Region, Region]] | None:
    """The widgets on screen row `y`, topmost first, each with its cropped region
    and clip; None when the map has no such row."""
    layers = screen._compositor.layers_visible
    return layers[y] if 0 <= y < len(layers) else None


def cached_row(widget: Widget, y: int, width: int) -> Strip | None:
    """Row `y` of the widget as Textual last rendered it (before filters), when
    the styles cache still holds it for this width and has not marked it dirty."""
    cache = widget._styles_cache
    if y in cache._dirty_lines or cache._width != width:
        return None
    return cache._cache.get(y)


def replace_cached_row(widget: Widget, y: int, row: Strip) -> None:
    """Put `row` in the styles cache as row `y`, so the next frame paints it."""
    widget._styles_cache._cache[y] = row


def render_row(widget: Widget, y: int, width: int) -> tuple[Strip, Strip | None]:
    """Row `y` rendered anew by the styles cache: the strip as filtered for the
    terminal, and the unfiltered one the cache keeps (None if it kept none)."""
    cache = widget._styles_cache
    line = Region(0, y, width, 1)
    cache.set_dirty(line)
    (strip,) = widget.render_lines(line)
    return strip, cache._cache.get(y)


def write_now(app: App[Any], body: str) -> None:
    """Write `body` to the terminal at once, as one synchronised update where the
    terminal has them."""
    sync = app._sync_available
    text = f"\x1b[?2026h{body}\x1b[?2026l" if sync else body
    driver = app._driver
    assert driver is not None
    driver.write(text)
    driver.flush()


# --- the step log (tui/ui/widgets/steplog.py) -------------------------------


def update_scrollbars(widget: Widget, virtual_size: Size) -> None:
    """Size the widget's scrollbars for `virtual_size` without a layout."""
    widget._scroll_update(virtual_size)


class LogHooks(Log):
    """Log with the two private hooks memtui replaces routed to named methods.

    `line_strip` may return line `y` as a strip (None: Log renders it);
    `measure_width` False skips Log's thread worker that measures each batch's
    widest line. By default both do what Log does."""

    measure_width = True

    def line_strip(self, y: int, rich_style: Style) -> Strip | None:
        return None

    def cached_line(self, y: int) -> Strip | None:
        """Line `y` in Log's own line cache (cleared on a style change, shifted
        when lines are pruned)."""
        return self._render_line_cache.get(y)

    def cache_line(self, y: int, strip: Strip) -> None:
        self._render_line_cache[y] = strip

    def line_text(self, y: int) -> str:
        """Line `y` as Log shows it: tabs expanded, control codes replaced."""
        return self._process_line(self._lines[y])

    def _render_line_strip(self, y: int, rich_style: Style) -> Strip:
        strip = self.line_strip(y, rich_style)
        return super()._render_line_strip(y, rich_style) if strip is None else strip

    def _update_size(self, updates: int, lines: list[str]) -> None:
        if self.measure_width:
            super()._update_size(updates, lines)
