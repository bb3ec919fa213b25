"""Connection limits of a real `papers serve`: a request must arrive within the header timeout (slow
and silent clients are answered 408 and closed), idle keep-alive connections close, a worker over its
concurrency limit answers 503 at once, and an oversized request head is refused."""

import asyncio
import socket
import time

import pytest

from tests.reliability.live import Client, in_own_loop, live_server

HEADER_TIMEOUT = 2
KEEP_ALIVE = 1
SLOW_CLIENTS = 1000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live_server(tmp_path_factory.mktemp("limits") / "data", "--header-timeout", str(HEADER_TIMEOUT),
                     "--keep-alive", str(KEEP_ALIVE)) as (port, log, _process):
        yield port, log


async def slow_client(port: int, pause: float, give_up: float) -> tuple[float | None, bytes]:
    """Sends a request line, then one header line every `pause` seconds and never the blank line
    that ends the headers. When the server closed the connection (seconds after the start; None if
    it never did before `give_up`), and what it said."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    said = b""
    try:
        writer.write(b"GET /?q=distillation HTTP/1.1\r\nHost: localhost\r\n")
        line = 0
        while time.monotonic() - started < give_up:
            try:
                chunk = await asyncio.wait_for(reader.read(1024), pause)
            except asyncio.TimeoutError:
                line += 1
                writer.write(f"X-Slow-{line}: {'a' * 20}\r\n".encode())
                continue
            except ConnectionError:
                return time.monotonic() - started, said
            if not chunk:
                return time.monotonic() - started, said
            said += chunk
        return None, said
    finally:
        writer.close()


def test_a_thousand_clients_sending_headers_a_line_at_a_time_are_all_closed_after_the_header_timeout(server):
    port, log = server

    async def attack():
        return await asyncio.gather(*(slow_client(port, pause=0.5, give_up=HEADER_TIMEOUT + 30)
                                      for _ in range(SLOW_CLIENTS)))
    outcomes = in_own_loop(attack)
    still_open = [o for o in outcomes if o[0] is None]
    assert still_open == [], f"{len(still_open)} of {SLOW_CLIENTS} slow clients still open"
    assert all(said.startswith(b"HTTP/1.1 408 ") for _, said in outcomes)
    assert min(closed for closed, _ in outcomes) >= HEADER_TIMEOUT - 0.5  # not before the deadline
    with Client(port, timeout=30) as client:
        assert client.get("/health")[0] == 200


def test_a_client_that_connects_and_says_nothing_is_closed(server):
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=HEADER_TIMEOUT + 20) as sock:
        started = time.monotonic()
        said = sock.recv(1024)
        assert said.startswith(b"HTTP/1.1 408 ") and b"did not arrive in time" in said
        assert sock.recv(1024) == b""
        assert HEADER_TIMEOUT - 0.5 <= time.monotonic() - started < HEADER_TIMEOUT + 20


def test_a_keep_alive_connection_serves_requests_past_the_header_timeout_then_closes_when_idle(server):
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        started = time.monotonic()
        answered = 0
        while time.monotonic() - started < HEADER_TIMEOUT * 2:  # the deadline is per request, not per connection
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
            answered += 1
            time.sleep(KEEP_ALIVE / 4)
        assert answered >= 4
        idle = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, without a word, once idle
        assert time.monotonic() - idle < KEEP_ALIVE + 10


def test_a_request_head_over_sixteen_kilobytes_is_refused_whole_or_in_pieces(server):
    port, _ = server
    head = b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        answer = read_response(sock)
        assert answer.startswith(b"HTTP/1.1 431 ") and b"limited to 16,384 bytes" in answer
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        for start in range(0, len(head), 1000):  # never whole in the parser's buffer
            try:
                sock.sendall(head[start:start + 1000])
            except ConnectionError:
                break
            time.sleep(0.01)
        assert read_response(sock).startswith(b"HTTP/1.1 400 ")


def test_a_worker_over_its_concurrency_limit_answers_503_at_once(tmp_path):
    with live_server(tmp_path / "data", "--limit-concurrency", "3", "--header-timeout", "60") as (port, _, _):
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        try:
            time.sleep(0.5)  # accepted by the server
            started = time.monotonic()
            with Client(port, timeout=30) as client:
                status, body = client.get("/?q=distillation")
            assert status == 503 and time.monotonic() - started < 5
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.5)
        with Client(port, timeout=30) as client:
            assert client.get("/?q=distillation")[0] == 200


def read_response(sock: socket.socket) -> bytes:
    """One whole response (head and a Content-Length body) from a keep-alive socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
