"""Security headers on every kind of response, static files kept in their folder, request limits, read-only routes."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from wellformed import check_response

from app import search
from app.db import sqlite3
from app.main import create_app
from app.web import limits
from app.web.limits import MAX_BODY_BYTES, MAX_QUERY_PARAMS, MAX_URL_BYTES
from app.settings import PROJECT_ROOT

EXPECTED = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "x-frame-options": "DENY",
}


def assert_secure_headers(response, what: str = "") -> None:
    where = what or f"{response.request.method} {response.request.url}"
    csp = response.headers.get("content-security-policy", "")
    directives = {part.split()[0]: part.split()[1:] for part in csp.split("; ") if part}
    assert directives.get("script-src") == ["'self'"], f"{where}: script-src is {directives.get('script-src')}"
    assert directives.get("frame-ancestors") == ["'none'"], where
    assert directives.get("object-src") == ["'none'"] and directives.get("base-uri") == ["'none'"], where
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, f"{where}: {csp}"
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, f"{where}: {name} is {response.headers.get(name)!r}"


@pytest.fixture
def raw_client(seeded):
    """A client that shows server errors as responses, the way a browser would get them."""
    with TestClient(create_app(), raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def some_key(client) -> str:
    return client.get("/api/papers", params={"per_page": 1}).json()["results"][0]["id"]


KINDS = [
    ("GET", "/", {}, 200), ("GET", "/?q=distillation", {"HX-Request": "true"}, 200),
    ("HEAD", "/", {}, 200), ("GET", "/tags", {}, 200), ("GET", "/api/papers?q=experts", {}, 200),
    ("GET", "/api/tags", {}, 200), ("GET", "/api/papers/no-such-paper", {}, 404), ("GET", "/no/such/page", {}, 404),
    ("GET", "/?page=0", {}, 422), ("GET", "/api/papers?page=0", {}, 422), ("POST", "/", {}, 405),
    ("DELETE", "/api/papers/x", {}, 405), ("GET", "/static/app.css", {}, 200),
    ("GET", "/static/vendor/htmx-2.0.11.min.js", {}, 200), ("GET", "/static/favicon.svg", {}, 200),
    ("GET", "/static/no-such-file.css", {}, 404), ("GET", "/health", {}, 200), ("GET", "/openapi.json", {}, 200),
    ("GET", "/feed.atom", {}, 200), ("GET", "/export.bib", {}, 200), ("GET", "/sitemap.xml", {}, 200),
    ("GET", "/robots.txt", {}, 200), ("GET", "/opensearch.xml", {}, 200),
    ("GET", "/?q=" + "x" * (MAX_URL_BYTES + 1), {}, 414), ("GET", "/api/papers?q=" + "x" * (MAX_URL_BYTES + 1), {}, 414),
]


@pytest.mark.parametrize("method, url, headers, status", KINDS, ids=[f"{m} {u[:40]}" for m, u, _, _ in KINDS])
def test_every_kind_of_response_carries_the_security_headers(raw_client, method, url, headers, status):
    response = raw_client.request(method, url, headers=headers)
    assert response.status_code == status
    assert_secure_headers(response)
    check_response(response)


def test_redirects_carry_the_security_headers(raw_client):
    key = some_key(raw_client)
    response = raw_client.get(f"/papers/{key}/a-slug-after-the-key")
    assert response.status_code == 301 and response.headers["location"] == f"/papers/{key}"
    assert_secure_headers(response)


def test_server_errors_carry_the_security_headers_and_no_details(raw_client, monkeypatch):
    def broken(params):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(search, "run", broken)
    for url in ("/?q=x", "/api/papers?q=x"):
        response = raw_client.get(url)
        assert response.status_code == 500
        assert "secret internal detail" not in response.text and "Traceback" not in response.text
        assert_secure_headers(response)
        check_response(response)


def test_a_stopped_or_failing_database_read_is_a_clear_503(raw_client, monkeypatch):
    for error, words in [("interrupted", "took too long"), ("database disk image is malformed", "damaged"),
                         ("unable to open database file", "cannot be opened")]:
        def failing(params, error=error):
            raise sqlite3.OperationalError(error)

        monkeypatch.setattr(search, "run", failing)
        for url in ("/?q=x", "/api/papers?q=x"):
            response = raw_client.get(url)
            assert response.status_code == 503 and response.headers["retry-after"]
            assert words in response.text
            assert_secure_headers(response)
            check_response(response)


# --- static files ----------------------------------------------------------------------

TRAVERSALS = [
    "/static/../app/main.py", "/static/%2e%2e/app/main.py", "/static/%2E%2E/%2E%2E/etc/passwd",
    "/static/..%2fapp%2fmain.py", "/static/..%2F..%2F..%2Fetc%2Fpasswd", "/static/%2e%2e%2fpyproject.toml",
    "/static/vendor/../../pyproject.toml", "/static/vendor/%2e%2e/%2e%2e/pyproject.toml",
    "/static/%252e%252e/app/main.py", "/static/..%5capp%5cmain.py", "/static/..\\app\\main.py",
    "/static/....//....//pyproject.toml", "/static/%c0%ae%c0%ae/app/main.py", "/static/..;/app/main.py",
    "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/static/./../app/main.py", "/static/app.css/../../README.md",
    "/static/%00../app/main.py", "/static/app.css%00.js", "/static/" + "../" * 20 + "etc/passwd",
]


def asgi_get(app, raw_path: str, extra_headers: list | None = None) -> tuple[int, dict, bytes]:
    """One GET straight into the ASGI app with the path exactly as a server would pass it (no client-side
    normalisation of dot segments, as httpx does)."""
    path_part, _, query = raw_path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(path_part), "raw_path": path_part.encode("latin-1"), "root_path": "",
             "query_string": query.encode(), "headers": [(b"host", b"testserver"), *(extra_headers or [])], "client": ("127.0.0.1", 1),
             "server": ("testserver", 80)}
    messages: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        messages.append(message)

    # In a thread of its own: the browser tests' Playwright keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


@pytest.mark.parametrize("raw_path", TRAVERSALS)
def test_static_files_cannot_escape_their_folder(seeded, raw_path):
    status, headers, body = asgi_get(create_app(), raw_path)
    assert status in (400, 404, 405), (status, body[:200])
    for secret in (b"def create_app", b"root:x:0:0", b"[build-system]", b"# Paper Catalogue"):
        assert secret not in body
    assert headers["x-content-type-options"] == "nosniff" and "script-src 'self'" in headers["content-security-policy"]


def test_static_files_are_served_with_their_own_type_and_nosniff(raw_client):
    css = raw_client.get("/static/app.css")
    assert css.headers["content-type"].startswith("text/css")
    js = raw_client.get("/static/app.js")
    assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert (PROJECT_ROOT / "static" / "app.css").read_bytes() == css.content


# --- request limits ----------------------------------------------------------------------

def test_an_address_at_the_limit_is_served_and_one_byte_more_is_414(raw_client):
    prefix = "/api/papers?q="
    assert raw_client.get(prefix + "x" * (MAX_URL_BYTES - len(prefix))).status_code == 200
    response = raw_client.get(prefix + "x" * (MAX_URL_BYTES - len(prefix) + 1))
    assert response.status_code == 414 and "8,192 bytes" in response.json()["detail"]


def test_percent_encoding_counts_towards_the_limit(raw_client):
    response = raw_client.get("/", params={"q": "é" * (MAX_URL_BYTES // 4)})  # 6 bytes each once encoded
    assert response.status_code == 414 and "shorten the query" in response.text


def test_too_many_parameters_are_refused(raw_client):
    params = [("tag", f"t{n}") for n in range(MAX_QUERY_PARAMS + 1)]
    assert raw_client.get("/", params=params).status_code == 414
    assert raw_client.get("/api/papers", params=params).status_code == 414
    assert raw_client.get("/", params=params[:MAX_QUERY_PARAMS]).status_code == 200


def test_a_request_body_over_the_limit_is_413(raw_client):
    for method, url in [("GET", "/"), ("POST", "/api/papers"), ("PUT", "/health")]:
        response = raw_client.request(method, url, content=b"x" * (MAX_BODY_BYTES + 1))
        assert response.status_code == 413, (method, url)
        assert_secure_headers(response)
    small = raw_client.request("GET", "/health", content=b"x" * 100)
    assert small.status_code == 200


def test_a_chunked_body_is_never_buffered_into_an_error(raw_client):
    def chunks():
        for _ in range(64):
            yield b"x" * 1024

    response = raw_client.request("GET", "/health", content=chunks())
    assert response.status_code in (200, 413)


def test_a_bad_content_length_is_400(seeded):
    status, headers, body = asgi_get(create_app(), "/health", [(b"content-length", b"lots")])
    assert status == 400 and b"Content-Length" in body


def test_a_search_past_its_time_limit_is_stopped(raw_client, monkeypatch):
    """SQLite interrupts the statement; the visitor gets a 503 that says why, and the server is free again."""
    from app import db

    monkeypatch.setattr(limits, "REQUEST_TIME_LIMIT", 0.05)

    def slow(params):
        conn = db.reader()
        conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c")
        raise AssertionError("an endless statement returned")

    monkeypatch.setattr(search, "run", slow)
    response = raw_client.get("/api/papers?q=x")
    assert response.status_code == 503 and "took too long" in response.json()["detail"]
    monkeypatch.undo()
    assert raw_client.get("/api/papers?q=experts").status_code == 200


# --- nothing writes ----------------------------------------------------------------------

def every_route(routes):
    """The app's routes, routers included (FastAPI keeps an included router as one entry)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from every_route(included.routes)
        else:
            yield route


def test_every_route_only_reads():
    routes = list(every_route(create_app().routes))
    for route in routes:
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        methods = getattr(route, "methods", None)
        assert methods and methods <= {"GET", "HEAD"}, f"{route.path} accepts {methods}"
    paths = {r.path for r in routes if isinstance(r, APIRoute)}
    assert {"/api/papers", "/api/papers/{key:path}", "/", "/papers/{key:path}", "/health"} <= paths
    assert len(paths) >= 15


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("url", ["/", "/api/papers", "/api/papers/x", "/api/tags", "/tags/x", "/papers/x",
                                 "/static/app.css", "/health", "/feed.atom"])
def test_write_methods_are_refused_everywhere(raw_client, method, url):
    response = raw_client.request(method, url)
    assert response.status_code == 405, (method, url, response.status_code)
    assert_secure_headers(response)
