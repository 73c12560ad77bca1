"""The screen: the Textual app, its screens, widgets and themes. The only package that imports Textual."""
