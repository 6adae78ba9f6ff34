"""``/docs``: Swagger UI served from the gateway's own files (PyPI ``swagger-ui-bundle``), so the
page works on an air-gapped cluster; FastAPI's default loads it from a CDN."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "add_local_docs"]

ASSETS_PATH = "/docs-assets"
# Swagger UI 4 (the bundle's) renders OpenAPI 3.0 documents only; our schema uses nothing of 3.1
# that 3.0 readers miss beyond `null` in `anyOf`, which they show as a plain type.
_OPENAPI_VERSION = "3.0.3"


def add_local_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and its assets from this process. `app` must be made with
    ``docs_url=None, redoc_url=None`` (ReDoc has no local bundle, so it is not offered)."""
    from swagger_ui_bundle import swagger_ui_path

    app.openapi_version = _OPENAPI_VERSION
    app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    title = f"{app.title} - Swagger UI"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=title,
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
        )
