"""Theme files: found, parsed, validated and turned into Textual themes.

The files live in `themes/` at the top of the repository and ship inside the
wheel as `tui.themes_data` (pyproject maps one onto the other). An editable
install does not map it, so the repository folder next to the `tui` package is
the fallback. Every colour is checked with `Color.parse` before Textual sees it,
because a bad colour inside Textual surfaces as a traceback at first paint.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import BUILTIN_THEMES, Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_THEME = "memtui-dark"
THEME_ENV = "TEXTUAL_THEME"
_COLOR_KEYS = (
    "primary", "secondary", "warning", "error", "success", "accent",
    "foreground", "background", "surface", "panel", "boost",
)


class ThemeChoiceError(ValueError):
    """An unknown theme name, worded with the names that exist."""


@dataclass(frozen=True)
class LoadedThemes:
    themes: tuple[Theme, ...]
    problems: tuple[str, ...]  # one line per broken file

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.themes)


def theme_files() -> list[Traversable]:
    """The shipped theme files, sorted by name."""
    folder: Traversable | None = None
    try:
        candidate = resources.files("tui.themes_data")
        if any(f.name.endswith(".toml") for f in candidate.iterdir()):
            folder = candidate
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError):
        folder = None
    if folder is None:
        repo = Path(__file__).resolve().parent.parent / "themes"
        if not repo.is_dir():
            return []
        folder = repo
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")), key=lambda f: f.name)


def parse_theme(text: str, source: str) -> Theme:
    """One theme from TOML text; raises ValueError with a one-line reason."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML ({exc})") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{source}: needs a name, e.g. name = \"my-theme\"")
    colors = data.get("colors", {})
    if not isinstance(colors, dict):
        raise ValueError(f"{source}: [colors] must be a table of colour names to values")
    unknown = sorted(set(colors) - set(_COLOR_KEYS))
    if unknown:
        raise ValueError(f"{source}: unknown colour {unknown[0]!r}; known: {', '.join(_COLOR_KEYS)}")
    if "primary" not in colors:
        raise ValueError(f"{source}: [colors] needs at least primary")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"{source}: [variables] must be a table")
    for key, value in {**colors, **variables}.items():
        if not isinstance(value, str):
            raise ValueError(f"{source}: {key} = {value!r} must be a colour string such as \"#1f6fb2\"")
        if key in colors or _looks_like_colour(value):
            try:
                Color.parse(value)
            except ColorParseError:
                raise ValueError(f"{source}: {key} = {value!r} is not a colour (try \"#rrggbb\")") from None
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ValueError(f"{source}: dark must be true or false")
    return Theme(name=name.strip(), dark=dark, variables=dict(variables), **colors)


def _looks_like_colour(value: str) -> bool:
    return value.startswith(("#", "rgb", "hsl"))


def load_themes(files: Iterable[Traversable] | None = None) -> LoadedThemes:
    """Every good theme, and one line for each file that could not be used."""
    themes: list[Theme] = []
    problems: list[str] = []
    for f in theme_files() if files is None else files:
        try:
            text = f.read_text(encoding="utf-8")
            themes.append(parse_theme(text, f.name))
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{f.name}: cannot read it ({exc})")
        except ValueError as exc:
            problems.append(str(exc))
    return LoadedThemes(tuple(themes), tuple(problems))


def available_names(loaded: LoadedThemes) -> list[str]:
    return list(loaded.names) + [n for n in BUILTIN_THEMES if n not in loaded.names]


def choose_theme(requested: str | None, loaded: LoadedThemes) -> str:
    """`--theme`, else $TEXTUAL_THEME, else the default; unknown names raise."""
    name = requested or os.environ.get(THEME_ENV) or DEFAULT_THEME
    names = available_names(loaded)
    if name in names:
        return name
    if name == DEFAULT_THEME:  # our own file is broken: Textual's dark theme still works
        return "textual-dark"
    where = "--theme" if requested else f"${THEME_ENV}"
    raise ThemeChoiceError(f"{where}: no theme called {name!r}; available: {', '.join(names)}")
