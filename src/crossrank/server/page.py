"""The demo page at `/`: one static HTML file, no external assets, talking to `/v2/rerank`."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse


def install_page(app: FastAPI) -> None:
    html = (resources.files("crossrank.server") / "static" / "index.html").read_text(encoding="utf-8")

    async def page() -> HTMLResponse:
        return HTMLResponse(html)

    app.get("/", include_in_schema=False)(page)
