"""ACM and MSC classifications are shown on the paper page, apart from arXiv category facets."""

import io
import json

from fastapi.testclient import TestClient

from app.db import connect
from app.ingest import ingest
from app.main import create_app


def test_paper_page_shows_classifications_but_facets_do_not(database, tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "2511.30001", "title": "Classified paper", "abstract": "Sparse experts.",
                                "categories": "cs.CL I.2.7; 68T50"}) + "\n")
    conn = connect(database)
    ingest(conn, [str(path)], quiet=True, out=io.StringIO())
    conn.close()
    with TestClient(create_app()) as client:
        page = client.get("/papers/2511.30001").text
        assert "ACM I.2.7" in page and "MSC 68T50" in page
        assert "ACM Computing Classification I.2.7" in page
        tag_page = client.get("/tags/msc-68T50").text
        assert "Classification" in tag_page and "arXiv category" not in tag_page
        assert "Classified paper" in tag_page
        body = client.get("/api/papers", params={"q": "sparse"}).json()
    facet_slugs = json.dumps(body.get("facets", body))
    assert "cs.CL" in facet_slugs and "acm-I.2.7" not in facet_slugs and "msc-68T50" not in facet_slugs
