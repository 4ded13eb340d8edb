"""The planner page at ``/`` and the self-hosted ``/docs`` and ``/redoc``.

Nothing here is fetched at run time: the page's files ship in the wheel under
``kolgraph/api/web/``, and Swagger UI and ReDoc come from the ``fastapi-offline``
distribution (its ``static/`` folder: swagger-ui-dist, Apache-2.0; ReDoc, MIT), so
``/docs`` works behind a firewall. (ReDoc's footer logo is the one outside URL in those
files: it is served rewritten to a local image.) The page holds no data: every figure it shows
comes from the /v1 routes, called with the key the user types (kept in the tab's
sessionStorage).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)

WEB = Path(str(resources.files("kolgraph.api") / "web"))
PAGE_FILES = {"app.js": "text/javascript", "app.css": "text/css", "charts.js": "text/javascript",
              "favicon.svg": "image/svg+xml"}
DOC_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
             "redoc.standalone.js": "text/javascript", "favicon.png": "image/png"}
# the page loads only its own files and talks only to this origin
PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _docs_static() -> Path:
    import fastapi_offline

    return Path(fastapi_offline.__file__).parent / "static"


@router.get("/", response_class=HTMLResponse)
async def page() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html", headers=HEADERS)


@router.get("/web/{name}")
async def page_file(name: str) -> FileResponse:
    if name not in PAGE_FILES:
        raise HTTPException(404, f"no file {name!r}")
    return FileResponse(WEB / name, media_type=PAGE_FILES[name], headers=HEADERS)


REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@cache
def _redoc_js() -> bytes:
    return (_docs_static() / "redoc.standalone.js").read_bytes().replace(
        REDOC_LOGO, b"/docs-static/favicon.png")


@router.get("/docs-static/{name}")
async def docs_file(name: str) -> Response:
    if name not in DOC_FILES:
        raise HTTPException(404, f"no file {name!r}")
    cache_control = {"Cache-Control": "public, max-age=86400"}
    if name == "redoc.standalone.js":
        return Response(_redoc_js(), media_type=DOC_FILES[name], headers=cache_control)
    return FileResponse(_docs_static() / name, media_type=DOC_FILES[name], headers=cache_control)


@router.get("/docs")
async def swagger(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url=request.app.openapi_url,
                               title=f"{request.app.title} - Swagger UI",
                               swagger_js_url="/docs-static/swagger-ui-bundle.js",
                               swagger_css_url="/docs-static/swagger-ui.css",
                               swagger_favicon_url="/docs-static/favicon.png")


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url=request.app.openapi_url,
                          title=f"{request.app.title} - ReDoc",
                          redoc_js_url="/docs-static/redoc.standalone.js",
                          redoc_favicon_url="/docs-static/favicon.png", with_google_fonts=False)
