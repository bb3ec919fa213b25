"""One error mapper for the whole site: JSON `{"detail": ...}` under /api and for /health,
the site's styled error page everywhere else, whatever raised it."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import pg
from app.db import Unavailable
from app.ingest.records import parse_arxiv_id
from app.search.cost import Refused
from app.sqlite_driver import sqlite3
from app.web import security
from app.web.render import common, templates

TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed", 413: "Request too large",
          414: "Address too long", 431: "Request headers too large",
          422: "That request did not make sense", 500: "Something went wrong",
          503: "Temporarily unavailable"}


class PaperNotFound(StarletteHTTPException):
    """No paper in the catalogue has this key; when the key is an arXiv id, the page points to arXiv."""

    def __init__(self, key: str) -> None:
        super().__init__(404, f"No paper in the catalogue has the identifier “{key}”.")
        self.arxiv_id = parse_arxiv_id(key)


class ErrorOut(BaseModel):
    detail: str
    limit: str | None = None  # the bound of the query cost model a refused query went past


class ValidationErrorOut(BaseModel):
    """FastAPI's own answer to an invalid parameter."""
    detail: list[dict[str, Any]]


def is_api(request: Request) -> bool:
    """Requests answered in JSON: the API, and the health probe."""
    path = request.url.path
    return path in ("/api", "/health") or path.startswith("/api/")


def respond(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """The error answer for a request: JSON under /api, else the site's error page."""
    if is_api(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    return page(request, status, message, headers)


def page(request: Request, status: int, message: str, headers: dict | None = None,
         arxiv_id: str | None = None) -> Response:
    context = common(request, title=TITLES.get(status, "Error"), status=status, message=message,
                     arxiv_id=arxiv_id)
    context["query"] = request.query_params.get("q", "") if status == 404 else ""
    response = templates.TemplateResponse(request, "error.html", context, status_code=status, headers=headers)
    if status >= 500:  # a 500 is produced outside the app's middleware
        security.apply(response)
    return response


def database_unavailable(exc: Exception) -> str:
    """What a database error means for someone reading the catalogue, in words."""
    if isinstance(exc, Unavailable):  # already said for readers (a missing or replaced file)
        return str(exc)
    text = str(exc).lower()
    if "interrupted" in text or "statement timeout" in text:
        return "This search took too long and was stopped. Try more specific words."
    if "unable to open" in text:
        return "The catalogue's database cannot be opened (missing file or no permission)."
    if "malformed" in text or "not a database" in text:
        return "The catalogue's database is damaged; it must be restored or rebuilt."
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return "The catalogue's database has no schema yet; it must be migrated."
    if "locked" in text or "busy" in text:
        return "The catalogue is busy; try again in a moment."
    return "The catalogue's database cannot be read right now."
def install(app: FastAPI) -> None:
    """Register the handlers: HTTP errors, invalid parameters, database errors, anything else."""

    async def on_http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if is_api(request):
            return await http_exception_handler(request, exc)
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code != 500 else ""
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no page at this address."
        return page(request, exc.status_code, message, headers=getattr(exc, "headers", None),
                    arxiv_id=getattr(exc, "arxiv_id", None))

    async def on_validation_error(request: Request, exc: RequestValidationError) -> Response:
        if is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {error.get('msg', 'invalid')}")
        return page(request, 422, "; ".join(problems))

    async def on_database_error(request: Request, exc: Exception) -> Response:
        return respond(request, 503, database_unavailable(exc), headers={"Retry-After": "5"})

    async def on_refused_query(request: Request, exc: Refused) -> Response:
        # The cost model refused the query before any work: say which bound, never search.
        if is_api(request):
            return JSONResponse({"detail": exc.message, "limit": exc.limit}, status_code=422)
        return page(request, 422, exc.message)

    async def on_server_error(request: Request, exc: Exception) -> Response:
        if is_api(request):
            return security.apply(PlainTextResponse("Internal Server Error", status_code=500))
        return page(request, 500, "")

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Refused, on_refused_query)
    app.add_exception_handler(sqlite3.DatabaseError, on_database_error)
    app.add_exception_handler(pg.Error, on_database_error)
    app.add_exception_handler(Exception, on_server_error)
