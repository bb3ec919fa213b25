"""The API reference at /docs works under the site's Content-Security-Policy."""

import re


def test_docs_page_loads_a_vendored_swagger_ui_with_no_inline_script(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.text, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    assert 'data-openapi-url="/openapi.json"' in response.text


def test_docs_assets_and_schema_are_served(client):
    for path in ("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js",
                 "/static/vendor/swagger-ui-5.35.0/swagger-ui.css", "/static/docs.js", "/openapi.json"):
        assert client.get(path).status_code == 200, path
