"""The demo page at `/` (one static HTML file, no external assets, talking to `/v2/rerank`) and its icon."""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f4e99"/>'
    '<path d="M4 4h8M4 8h6M4 12h4" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>'
)


def install_page(app: FastAPI) -> None:
    html = (resources.files("crossrank.server") / "static" / "index.html").read_text(encoding="utf-8")

    async def page() -> HTMLResponse:
        return HTMLResponse(html)

    async def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    app.get("/", include_in_schema=False)(page)
    app.get("/favicon.ico", include_in_schema=False)(icon)
