"""The FastAPI application: routers, static files, security headers, limits, health and error pages."""

import os
import shutil
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from app import api, sqlite_driver, web
from app.db import reader, sqlite3, time_limit
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
_RAW_SECURITY_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

# Every route is a GET: a real request never has a body, and its address is short.
MAX_BODY_BYTES = 16 * 1024
MAX_URL_BYTES = 8 * 1024           # path + query string, as sent (percent-encoded)
MAX_QUERY_PARAMS = 64              # each repeated tag/year filter counts once
# A search that would hold a core this long is stopped (SQLite interrupts it) and answered 503.
REQUEST_TIME_LIMIT = float(os.environ.get("REQUEST_TIME_LIMIT", "15") or 0)
LOW_DISK_BYTES = 64 * 1024 * 1024  # below this, ingest is likely to stop with "disk full"


class SecurityHeaders:
    """Adds the security headers to every response that passes through, static files and errors included."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((n, v) for n, v in _RAW_SECURITY_HEADERS if n not in present)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Limits:
    """Refuses oversized requests before any route sees them (414, 413) and bounds each request's database time."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        problem = _oversized(scope)
        if problem is not None:
            status, message = problem
            return await _refuse(scope, receive, send, status, message)
        received, started = 0, False

        async def bounded_receive():  # a chunked body has no Content-Length to check up front
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise _BodyTooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            with time_limit(REQUEST_TIME_LIMIT):
                await self.app(scope, bounded_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await _refuse(scope, receive, send, 413, f"Request bodies are limited to {MAX_BODY_BYTES:,} bytes.")


class _BodyTooLarge(Exception):
    pass


def _oversized(scope) -> tuple[int, str] | None:
    query = scope.get("query_string", b"")
    target = len(scope.get("raw_path") or scope["path"].encode()) + (len(query) + 1 if query else 0)
    if target > MAX_URL_BYTES:
        return 414, f"Addresses are limited to {MAX_URL_BYTES:,} bytes; shorten the query."
    if query.count(b"&") + 1 > MAX_QUERY_PARAMS:
        return 414, f"An address may carry at most {MAX_QUERY_PARAMS} parameters."
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                too_large = int(value) > MAX_BODY_BYTES
            except ValueError:
                return 400, "Content-Length is not a number."
            if too_large:
                return 413, f"Request bodies are limited to {MAX_BODY_BYTES:,} bytes."
    return None


# Answers any API operation may give besides its own, documented in the OpenAPI schema.
LIMIT_RESPONSES: dict[int | str, dict] = {
    413: {"model": api.ErrorOut, "description": f"Request body over {MAX_BODY_BYTES:,} bytes"},
    414: {"model": api.ErrorOut, "description": f"Address over {MAX_URL_BYTES:,} bytes or over "
                                                f"{MAX_QUERY_PARAMS} parameters"},
    503: {"model": api.ErrorOut, "description": "The database is unavailable, or the search ran out of time"},
}

ERROR_TITLES = {400: "Bad request", 413: "Request too large", 414: "Address too long",
                503: "Temporarily unavailable"}


def _error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """JSON `{"detail": ...}` under /api and for /health, the site's error page elsewhere."""
    if request.url.path in ("/api", "/health") or request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    context = web.common(request, title=ERROR_TITLES.get(status, "Error"), status=status, message=message,
                         query="")
    return web.templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)


async def _refuse(scope, receive, send, status: int, message: str) -> None:
    response = _error_response(Request(scope, receive), status, message,
                               headers={"Connection": "close"} if status == 413 else None)
    await response(scope, receive, send)


def database_unavailable(exc: Exception) -> str:
    """What a database error means for someone reading the catalogue, in words."""
    text = str(exc).lower()
    if "interrupted" in text:
        return "This search took too long and was stopped. Try more specific words."
    if "unable to open" in text:
        return "The catalogue's database cannot be opened (missing file or no permission)."
    if "malformed" in text or "not a database" in text:
        return "The catalogue's database is damaged; it must be restored or rebuilt."
    if "no such table" in text:
        return "The catalogue's database has no schema yet; it must be migrated."
    if "locked" in text or "busy" in text:
        return "The catalogue is busy; try again in a moment."
    return "The catalogue's database cannot be read right now."


def database_state() -> tuple[int, dict]:
    """The /health answer: 200 when searches work (perhaps degraded), 503 when they cannot."""
    path = get_settings().database_path
    if not path.exists():
        return 503, {"status": "error", "detail": "database file missing"}
    try:
        count = reader().execute("SELECT count(*) FROM papers").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return 503, {"status": "error", "detail": database_unavailable(exc)}
    body: dict = {"status": "ok", "papers": count, "writable": _writable(path)}
    problems = [] if body["writable"] else ["database is read-only: searches work, ingest cannot write"]
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if free is not None:
        body["disk_free_bytes"] = free
        if free < LOW_DISK_BYTES:
            problems.append("disk almost full: searches work, ingest may fail")
    if problems:
        body["status"], body["detail"] = "degraded", "; ".join(problems)
    return 200, body


def _writable(path) -> bool:
    """Whether an ingest could write: the file, its directory (for the journal) and the mount."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def create_app() -> FastAPI:
    sqlite_driver.require()  # says what this SQLite lacks, rather than failing on the first search
    settings = get_settings()
    # FastAPI's own docs page loads its scripts from a CDN and starts them inline, which our
    # CSP forbids: the page below serves a vendored Swagger UI started from a static file.
    app = FastAPI(title=settings.site_name, version="0.1.0", docs_url=None, redoc_url=None,
                  description="Search research papers: full-text with ranking, tags as facets, permalinks.")

    @app.get("/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        return web.templates.TemplateResponse(request, "docs.html", {
            "site_name": settings.site_name, "openapi_url": app.openapi_url})

    @app.get("/health", tags=["meta"], responses={**LIMIT_RESPONSES,
                                                  503: {"description": "The catalogue cannot answer searches"}})
    def health() -> JSONResponse:
        """Whether the catalogue can answer: ok, degraded (read-only, disk almost full) or error (503)."""
        status, body = database_state()
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    app.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)  # for probes that use HEAD

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(api.router, responses=LIMIT_RESPONSES)
    app.include_router(web.router)
    web.install_error_pages(app)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        return _error_response(request, 503, database_unavailable(exc), headers={"Retry-After": "5"})

    app.add_exception_handler(sqlite3.DatabaseError, on_database_error)
    # Unhandled errors are answered outside the middleware stack: their page needs the headers too.
    server_error: Callable[[Request, Exception], Awaitable[Response]] = app.exception_handlers[Exception]

    async def on_server_error(request: Request, exc: Exception) -> Response:
        response = await server_error(request, exc)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    app.add_exception_handler(Exception, on_server_error)
    app.add_middleware(Limits)
    app.add_middleware(SecurityHeaders)  # outermost: also covers the limits' own refusals
    return app


app = create_app()
