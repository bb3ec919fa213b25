"""The FastAPI application: routers, static files, security headers, health and error pages."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from app import api, web
from app.db import reader
from app.settings import STATIC_DIR, get_settings

# Scripts only from our own origin: htmx is vendored and configured to need no inline code.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def create_app() -> FastAPI:
    settings = get_settings()
    app = FastAPI(title=settings.site_name, version="0.1.0",
                  description="Search research papers: full-text with ranking, tags as facets, permalinks.")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN202 - middleware signature
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/health", tags=["meta"])
    def health() -> JSONResponse:
        """Whether the catalogue can answer: database readable, schema present."""
        try:
            count = reader().execute("SELECT count(*) FROM papers").fetchone()[0]
        except Exception as exc:  # noqa: BLE001 - reported to the caller, not raised
            return JSONResponse({"status": "error", "detail": f"database unavailable: {exc}"}, status_code=503)
        return JSONResponse({"status": "ok", "papers": count})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router)
    app.include_router(web.router)
    web.install_error_pages(app)
    return app


app = create_app()
