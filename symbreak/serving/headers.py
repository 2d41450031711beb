"""Security headers for every response of the app: one list, sent by nginx (`symbreak serve`) and by the image.

The Content-Security-Policy allows the page's own origin and exactly what Streamlit's frontend needs on top of it,
found by loading every page under the policy in Chromium and reading the console: inline styles (its CSS-in-JS
writes <style> elements), the one inline <script> of its index.html (allowed by its hash, read from the installed
streamlit), WebAssembly compilation for its protobuf decoder ('wasm-unsafe-eval', not the wider 'unsafe-eval'),
blob: scripts (a v2 component such as the app's chart imports its JS as a blob module), and data:/blob: images
and fonts. No other site may frame the app, and no URL leaves it as a referrer.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from collections.abc import Awaitable, Callable, MutableMapping
from functools import cache
from pathlib import Path
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)
# The app's one inline script, read where the checkout keeps it (serving imports nothing of the pages).
APP_SCRIPT = Path(__file__).resolve().parents[2] / "pages" / "access.js"


def _streamlit_index() -> Path | None:
    """Streamlit's index.html, found without importing streamlit (this module must not)."""
    spec = importlib.util.find_spec("streamlit")
    if spec is None or spec.origin is None:
        return None
    index = Path(spec.origin).parent / "static" / "index.html"
    return index if index.exists() else None


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-…') for every inline <script> of an HTML page."""
    return [f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
            for body in INLINE_SCRIPT.findall(html)]


@cache
def content_security_policy() -> str:
    """The app's Content-Security-Policy: its own origin plus what Streamlit's frontend needs."""
    index = _streamlit_index()
    inline = inline_script_hashes(index.read_text()) if index else []
    if APP_SCRIPT.exists():  # the app's own inline script (the keyboard shortcuts), which never changes
        inline += inline_script_hashes(f"<script>{APP_SCRIPT.read_text(encoding='utf-8')}</script>")
    scripts = " ".join(["'self'", "'wasm-unsafe-eval'", "blob:", *inline])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "media-src 'self' blob:",
        "worker-src 'self' blob:",
        "frame-src 'self'",
        "frame-ancestors 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
    ])


def security_headers() -> dict[str, str]:
    """Every security header the app sends, by name."""
    return {
        "Content-Security-Policy": content_security_policy(),
        "X-Frame-Options": "SAMEORIGIN",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }


class SecurityHeaders:
    """Pure ASGI middleware that adds security_headers() to every HTTP response (and leaves websockets alone)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in security_headers().items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in self.headers}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
                message["headers"] = kept + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
