"""The FastAPI application, assembled: routers, static files, error handlers, middleware.

What each piece does lives in app/web/: pages.py (HTML), api.py (JSON), health.py,
params.py (one parsing of a view), errors.py (one error mapper), limits.py and
security.py (the two middlewares).
"""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.settings import STATIC_DIR, get_settings
from app.web import api, errors, health, pages
from app.web.limits import LIMIT_RESPONSES, Limits
from app.web.security import SecurityHeaders


def create_app() -> FastAPI:
    app = FastAPI(title=get_settings().site_name, version="0.1.0", docs_url=None, redoc_url=None,
                  description="Search research papers: full-text with ranking, tags as facets, permalinks.")
    app.include_router(health.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router, responses=LIMIT_RESPONSES)
    app.include_router(pages.router)
    errors.install(app)
    app.add_middleware(Limits)
    app.add_middleware(SecurityHeaders)  # outermost: also covers the limits' own refusals
    return app


app = create_app()
