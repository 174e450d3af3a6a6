"""Templates, and the context every page shares (who is signed in, where they are)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates

from auditledger import __version__
from auditledger.web.pages.option_html import options_html, zone_options_html
from auditledger.web.pages.visible import visible

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
    # Every printed value: bidi and control characters shown, never obeyed (pages/visible.py).
    finalize=visible,
)
_env.globals["version"] = __version__
# The filter form's long option lists, written in Python (pages/option_html.py).
_env.filters["options_html"] = options_html
_env.filters["zone_options_html"] = zone_options_html
templates = Jinja2Templates(env=_env)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``name`` rendered with ``context``; never cached (it may hold private data)."""
    reader = context.get("reader")
    if reader is not None:
        context.setdefault("base", "/orgs/" + quote(reader.org.slug, safe=""))
    all_headers = {"Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers=all_headers
    )
