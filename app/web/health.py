"""The site's own pages that are not the catalogue: /health for probes, /docs for the API."""

import os
import shutil

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from app import papers, pg
from app.db import sqlite3
from app.settings import get_settings
from app.web.errors import database_unavailable
from app.web.limits import LIMIT_RESPONSES
from app.web.render import templates

LOW_DISK_BYTES = 64 * 1024 * 1024  # below this, ingest is likely to stop with "disk full"

router = APIRouter()


@router.api_route("/docs", methods=["GET", "HEAD"], include_in_schema=False)  # link checkers use HEAD
def api_docs(request: Request) -> Response:
    # FastAPI's own docs page loads its scripts from a CDN and starts them inline, which our
    # CSP forbids: this page serves a vendored Swagger UI started from a static file.
    return templates.TemplateResponse(request, "docs.html", {
        "site_name": get_settings().site_name, "openapi_url": request.app.openapi_url})


@router.get("/health", tags=["meta"], responses={**LIMIT_RESPONSES,
                                                 503: {"description": "The catalogue cannot answer searches"}})
def health() -> JSONResponse:
    """Whether the catalogue can answer: ok, degraded (read-only, disk almost full) or error (503)."""
    status, body = database_state()
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)  # for probes that use HEAD


def database_state() -> tuple[int, dict]:
    """The /health answer: 200 when searches work (perhaps degraded), 503 when they cannot."""
    if get_settings().is_postgres:
        return _postgres_state()
    path = get_settings().database_path
    try:  # the same words every page and API answer give while the database cannot be read
        count = papers.paper_count()
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


def _postgres_state() -> tuple[int, dict]:
    """On PostgreSQL: whether the readers' database answers, and whether it is a standby
    (app servers reading a replica; writes go to the primary). Its disk is the server's."""
    try:
        count = papers.paper_count()
        standby = papers.reads_standby()
    except (pg.Error, sqlite3.DatabaseError) as exc:
        return 503, {"status": "error", "detail": database_unavailable(exc)}
    return 200, {"status": "ok", "papers": count, "database": "postgresql", "standby": standby}


def _writable(path) -> bool:
    """Whether an ingest could write: the file, its directory (for the journal) and the mount."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return False
    except OSError:
        return False
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
