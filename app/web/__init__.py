"""The HTTP edge: HTML pages and htmx fragments (pages.py), the JSON API (api.py), and what both share."""
