"""What every HTML response shares: the templates, the common context, fragment detection."""

from dataclasses import replace

from fastapi import Request
from jinja2 import StrictUndefined
from jinja2_fragments.fastapi import Jinja2Blocks

from app import kinds
from app.db import reader
from app.search.catalogue import catalogue
from app.settings import TEMPLATES_DIR, get_settings

templates = Jinja2Blocks(directory=TEMPLATES_DIR)
templates.env.undefined = StrictUndefined  # a missing name is a bug, not an empty string
templates.env.globals["replace"] = replace
templates.env.filters["capitalize_first"] = lambda text: text[:1].upper() + text[1:]
# (kind, heading) of every facet group, in order (app/kinds.py)
templates.env.globals["facet_groups"] = [(kind.name, kind.heading) for kind in kinds.FACETS]
templates.env.globals["tag_groups"] = [(kind.name, kind.heading) for kind in kinds.FACETS if kind.source == "tag"]
templates.env.globals["kind_singular"] = {kind.name: kind.singular for kind in kinds.KINDS}  # "arXiv category"
VARY = {"Vary": "HX-Request, HX-Live"}


def trending_offered() -> bool:
    """Whether the "Trending" sort means anything here: some paper has upvotes (daily papers).
    A template global rather than common context: error pages render while the database cannot be read."""
    return catalogue(reader()).upvoted > 0


templates.env.globals["trending_offered"] = trending_offered


def base_url(request: Request) -> str:
    return (get_settings().base_url or str(request.base_url)).rstrip("/")


def wants_fragment(request: Request) -> bool:
    return (request.headers.get("HX-Request") == "true"
            and request.headers.get("HX-History-Restore-Request") != "true")


def common(request: Request, **context) -> dict:
    settings = get_settings()
    return {"site_name": settings.site_name, "base_url": base_url(request), "path": request.url.path,
            "canonical": None, **context}
