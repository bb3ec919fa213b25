"""HTML routes and htmx fragments."""

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.db import reader
from app.settings import TEMPLATES_DIR, get_settings

router = APIRouter()
templates = Jinja2Templates(directory=TEMPLATES_DIR)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> HTMLResponse:
    """The catalogue, newest first."""
    papers = reader().execute(
        "SELECT key, title, authors, published FROM papers ORDER BY published DESC, id DESC LIMIT 200").fetchall()
    return templates.TemplateResponse(request, "home.html",
                                      {"papers": papers, "site_name": get_settings().site_name})


def install_error_pages(app: FastAPI) -> None:
    """Site-styled error pages (the web layer owns them)."""
