"""`papers sync arxiv` over a recorded-shape harvest replayed on 127.0.0.1.

Builds an OAI-PMH ListRecords harvest (arXiv metadata format, 1,000 records a
page, chained by resumption tokens) from corpus records, serves it locally, and
times a sync into an empty catalogue with the pause between requests set to 0:
the figure is the harvester and loader, not the network or arXiv's politeness.

    .venv/bin/python -m bench.sync_replay [--records 10000] [--corpus PATH]
"""

import argparse
import gzip
import io
import json
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

PAGE = 1_000
from bench.common import CORPUS as DEFAULT_CORPUS  # noqa: E402 - the shared corpus, found as the harness finds it


def _record(paper: dict) -> str:
    authors = "".join(f"<author><keyname>{escape(name.split()[-1])}</keyname>"
                      f"<forenames>{escape(' '.join(name.split()[:-1]))}</forenames></author>"
                      for name in paper.get("authors") or [] if name.split())
    cats = " ".join(paper.get("categories") or [])
    published = str(paper.get("published") or "")[:10]
    return (f"<record><header><identifier>oai:arXiv.org:{paper['id']}</identifier>"
            f"<datestamp>{published}</datestamp><setSpec>cs</setSpec></header><metadata>"
            f'<arXiv xmlns="http://arxiv.org/OAI/arXiv/"><id>{paper["id"]}</id><created>{published}</created>'
            f"<authors>{authors}</authors><title>{escape(paper['title'])}</title><categories>{cats}</categories>"
            f"<abstract>{escape(paper['abstract'])}</abstract></arXiv></metadata></record>\n")


def build_pages(corpus: Path, count: int) -> list[bytes]:
    papers = []
    with gzip.open(corpus, "rt") as lines:
        for line in lines:
            paper = json.loads(line)
            if paper.get("id") and paper.get("title") and paper.get("abstract"):
                papers.append(paper)
            if len(papers) == count:
                break
    pages = []
    for start in range(0, len(papers), PAGE):
        chunk = papers[start:start + PAGE]
        more = start + PAGE < len(papers)
        token = (f'<resumptionToken cursor="{start}" completeListSize="{len(papers)}">'
                 f'{"bench|" + str(start + PAGE) if more else ""}</resumptionToken>')
        pages.append(('<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
                      "<responseDate>2026-11-30T06:00:00Z</responseDate><ListRecords>\n"
                      + "".join(_record(p) for p in chunk) + token + "</ListRecords></OAI-PMH>\n").encode())
    return pages


def serve(pages: list[bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            query = dict(parse_qsl(urlsplit(self.path).query))
            index = int(query["resumptionToken"].split("|")[1]) // PAGE if "resumptionToken" in query else 0
            body = pages[index]
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        print(f"no corpus at {args.corpus}", file=sys.stderr)
        return 2
    pages = build_pages(args.corpus, args.records)
    server = serve(pages)
    with tempfile.TemporaryDirectory() as work:
        import os
        os.environ.update({"DATA_DIR": work, "ARXIV_OAI_URL": f"http://127.0.0.1:{server.server_address[1]}/oai",
                           "SYNC_PAUSE": "0"})
        os.environ.pop("DATABASE_URL", None)
        from app import migrate
        from app.db import connect
        from app.settings import get_settings
        from app.sync.arxiv import harvest
        get_settings.cache_clear()
        migrate.upgrade()
        conn = connect(get_settings().database_path)
        started = time.perf_counter()
        stats, requests = harvest(conn, "cs", quiet=True, out=io.StringIO())
        seconds = time.perf_counter() - started
        again = time.perf_counter()
        restats, rerequests = harvest(conn, "cs", "2000-01-01", quiet=True, out=io.StringIO())
        reseconds = time.perf_counter() - again
        conn.close()
    server.shutdown()
    size = sum(len(p) for p in pages)
    print(f"harvest: {stats.read:,} records ({size / 1e6:.1f} MB of XML) in {requests} requests, "
          f"{seconds:.1f} s, {stats.read / seconds:,.0f} records/s; inserted {stats.inserted:,}, "
          f"skipped {stats.skipped:,}")
    print(f"re-harvest of the same records: {rerequests} requests, {reseconds:.1f} s, "
          f"{restats.read / reseconds:,.0f} records/s; unchanged {restats.unchanged:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
