"""Bounded cost per request: oversized requests are refused before any route sees them,
and each request's database time is limited."""

import os

from fastapi import Request

from app.db import time_limit
from app.web import errors

# Every route is a GET: a real request never has a body, and its address is short.
MAX_BODY_BYTES = 16 * 1024
MAX_URL_BYTES = 8 * 1024           # path + query string, as sent (percent-encoded)
MAX_QUERY_PARAMS = 64              # each repeated tag/year filter counts once
# Header names and values together. The HTTP parser refuses a longer head only while it arrives in
# pieces (h11's max_incomplete_event_size, set by `papers serve`); one that arrives whole is checked here.
MAX_HEADER_BYTES = 16 * 1024
# A search that would hold a core this long is stopped (SQLite interrupts it) and answered 503.
REQUEST_TIME_LIMIT = float(os.environ.get("REQUEST_TIME_LIMIT", "15") or 0)
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
    headers = scope.get("headers", [])
    if sum(len(name) + len(value) for name, value in headers) > MAX_HEADER_BYTES:
        return 431, f"Request headers are limited to {MAX_HEADER_BYTES:,} bytes."
    for name, value in headers:
        if name == b"content-length":
            try:
                too_large = int(value) > MAX_BODY_BYTES
            except ValueError:
                return 400, "Content-Length is not a number."
            if too_large:
                return 413, f"Request bodies are limited to {MAX_BODY_BYTES:,} bytes."
    return None


async def _refuse(scope, receive, send, status: int, message: str) -> None:
    response = errors.respond(Request(scope, receive), status, message,
                              headers={"Connection": "close"} if status in (413, 431) else None)
    await response(scope, receive, send)


# Answers any API operation may give besides its own, documented in the OpenAPI schema.
LIMIT_RESPONSES: dict[int | str, dict] = {
    413: {"model": errors.ErrorOut, "description": f"Request body over {MAX_BODY_BYTES:,} bytes"},
    431: {"model": errors.ErrorOut, "description": f"Request headers over {MAX_HEADER_BYTES:,} bytes"},
    414: {"model": errors.ErrorOut, "description": f"Address over {MAX_URL_BYTES:,} bytes or over "
                                                   f"{MAX_QUERY_PARAMS} parameters"},
    503: {"model": errors.ErrorOut, "description": "The database is unavailable, or the search ran out of time"},
}
