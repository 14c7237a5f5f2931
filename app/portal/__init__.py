"""The branded portal: server-rendered pages (Jinja2 + htmx) for partners and retailers."""
