"""Theme files shipped inside the package as tui.themes_data (see tui/ui/themes.py)."""
