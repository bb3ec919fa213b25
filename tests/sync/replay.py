"""A local HTTP server on 127.0.0.1 that replays recorded responses, and notes every request."""

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

RECORDED = Path(__file__).parent / "recorded"


@dataclass
class Reply:
    body: str = ""                     # a file in recorded/, or literal text when it has no such file
    status: int = 200
    headers: tuple = ()
    drop: bool = False                 # close the connection without answering (a network error)

    def content(self) -> bytes:
        named = self.body and len(self.body) < 200 and "\n" not in self.body  # else surely a text
        return (RECORDED / self.body).read_bytes() if named and (RECORDED / self.body).is_file() else self.body.encode()


class Replay:
    """Answers by query string: each matching request takes the next reply; the last one repeats."""

    def __init__(self):
        self.script: list[tuple[dict, list[Reply]]] = []
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server name
                query = dict(parse_qsl(urlsplit(self.path).query))
                server.requests.append(query)
                reply = server.reply_for(query)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                content = reply.content()
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oai"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def on(self, query: dict, *replies: Reply) -> None:
        self.script.insert(0, (query, list(replies)))  # later rules win over earlier ones

    def reply_for(self, query: dict) -> Reply:
        for wanted, replies in self.script:
            if all(query.get(k) == v for k, v in wanted.items()):
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return Reply("no such page", status=404)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
