"""The dashboard's routes."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    page = resources.files("plaudit_collector.web").joinpath("dashboard.html").read_text(encoding="utf-8")
    return HTMLResponse(page)
