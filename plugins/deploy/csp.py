"""The Content-Security-Policy of both sites: scripts from the site itself and the theme's few inline scripts only.

Escaping keeps editors' text from becoming markup; this is the second wall: should markup ever
get through (raw HTML in a Markdown body, a template mistake), the browser refuses to run it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", re.S)
EXECUTABLE = re.compile(r'\btype="(?!text/javascript|module)[^"]*"')
# Material's scope script names the site's root relative to each page: one variant per folder depth.
SCOPE = re.compile(r'__md_scope=new URL\("([./]*)",location\)')
MAX_DEPTH = 12
VIDEO_PLAYERS = ("https://www.youtube-nocookie.com", "https://player.vimeo.com")  # see filters.video_embed


def inline_scripts(pages: Iterable[Path]) -> set[str]:
    """Return the bodies of the inline scripts a browser would run in these pages."""
    found = set()
    for page in pages:
        for attrs, body in INLINE_SCRIPT.findall(page.read_text("utf-8")):
            if not EXECUTABLE.search(attrs):
                found.add(body)
    return found


def with_every_depth(scripts: set[str]) -> set[str]:
    """Add the scope script as it reads at every folder depth, so that a deeper page added later still runs it."""
    out = set(scripts)
    for body in scripts:
        if SCOPE.search(body):
            for depth in range(MAX_DEPTH + 1):
                root = "/".join([".."] * depth) or "."
                out.add(SCOPE.sub(f'__md_scope=new URL("{root}",location)', body, count=1))
    return out


def sha256(body: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode() + "'"


def theme_pages(sites: Iterable[Path]) -> list[Path]:
    """Return the pages whose inline scripts are the theme's own: the 404 page holds no editor's text.

    Hashing the scripts found in every page would approve a script that an editor's Markdown
    let through: that is precisely what the policy is for.
    """
    return [site / "404.html" for site in sites]


def content_security_policy(sites: Iterable[Path], tiles_url: str = "") -> str:
    """Return the policy for pages of these built sites; tiles_url is the map's base layer (loaded on request)."""
    hashes = sorted(sha256(body) for body in with_every_depth(inline_scripts(theme_pages(sites))))
    tiles = urlsplit(tiles_url.replace("{s}.", "*."))  # Leaflet's {s} subdomains: a CSP wildcard
    tile_origin = f" {tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
    return "; ".join(
        [
            "default-src 'self'",
            # Pagefind compiles its WebAssembly search engine: 'wasm-unsafe-eval' allows that, not JavaScript eval.
            f"script-src 'self' 'wasm-unsafe-eval' {' '.join(hashes)}",
            "style-src 'self' 'unsafe-inline'",  # Leaflet positions its layers with style attributes
            f"img-src 'self' data:{tile_origin}",
            f"frame-src {' '.join(VIDEO_PLAYERS)}",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )
