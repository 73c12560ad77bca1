"""Theme files: found, validated, shipped in the wheel, chosen by name."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from textual.color import Color

from tui.ui.themes import DEFAULT_THEME, ThemeChoiceError, choose_theme, load_themes, parse_theme

REPO = Path(__file__).resolve().parents[2]


def test_the_repo_ships_a_dark_default_a_light_and_a_high_contrast_theme() -> None:
    loaded = load_themes()
    assert loaded.problems == ()
    assert {"memtui-dark", "memtui-light", "memtui-contrast"} <= set(loaded.names)
    assert DEFAULT_THEME == "memtui-dark"
    by_name = {t.name: t for t in loaded.themes}
    assert by_name["memtui-dark"].dark and not by_name["memtui-light"].dark


def test_every_colour_in_every_file_parses() -> None:
    for theme in load_themes().themes:
        for value in (theme.primary, theme.background, theme.foreground, theme.error):
            assert value is not None
            Color.parse(value)


def test_a_broken_file_is_named_in_one_line_and_the_good_ones_still_load(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('name = "good"\n[colors]\nprimary = "#112233"\n')
    bad_colour = tmp_path / "bad.toml"
    bad_colour.write_text('name = "bad"\n[colors]\nprimary = "#12345z"\n')
    bad_toml = tmp_path / "worse.toml"
    bad_toml.write_text("name = \n")
    loaded = load_themes([good, bad_colour, bad_toml])
    assert loaded.names == ("good",)
    assert len(loaded.problems) == 2
    assert loaded.problems[0].startswith("bad.toml: primary = '#12345z' is not a colour")
    assert loaded.problems[1].startswith("worse.toml: not valid TOML")
    assert all("\n" not in p for p in loaded.problems)


def test_unknown_colour_keys_and_missing_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown colour 'primry'"):
        parse_theme('name = "x"\n[colors]\nprimry = "#000000"\n', "x.toml")
    with pytest.raises(ValueError, match="needs a name"):
        parse_theme('[colors]\nprimary = "#000000"\n', "x.toml")


def test_theme_is_chosen_by_flag_then_environment_then_default(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_themes()
    assert choose_theme(None, loaded) == "memtui-dark"
    monkeypatch.setenv("TEXTUAL_THEME", "memtui-light")
    assert choose_theme(None, loaded) == "memtui-light"
    assert choose_theme("memtui-contrast", loaded) == "memtui-contrast"
    assert choose_theme("nord", loaded) == "nord"  # Textual's own themes stay available


def test_an_unknown_name_lists_the_available_ones() -> None:
    with pytest.raises(ThemeChoiceError) as err:
        choose_theme("solarised", load_themes())
    assert "no theme called 'solarised'" in str(err.value)
    assert "memtui-dark, memtui-light" in str(err.value).replace("memtui-contrast, ", "")


def test_unknown_theme_on_the_command_line_is_one_line_and_exit_2() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tui.cli", "--theme", "nope"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "no theme called 'nope'; available: memtui-contrast, memtui-dark, memtui-light" in proc.stderr


def test_the_wheel_contains_the_theme_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(REPO / ".venv/bin/pip"), "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("memtui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for theme in ("memtui-dark", "memtui-light", "memtui-contrast"):
        assert f"tui/themes_data/{theme}.toml" in names
    assert "tui/ui/app.tcss" in names
    # Installed from the wheel (no repository next to it), the themes still load.
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    probe = "from tui.ui.themes import load_themes; l = load_themes(); print(sorted(l.names), l.problems)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.stdout.strip() == "['memtui-contrast', 'memtui-dark', 'memtui-light'] ()", out.stderr[-1000:]
