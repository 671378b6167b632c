"""Data files shipped with the app (icon, .desktop entry, the demo model); no code."""
