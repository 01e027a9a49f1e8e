"""Counted links: each web link of a letter goes through the service as /l/<letter>/<number>/<signature>.

The same in every copy of the letter (nothing in it says who received it); the signature covers
the letter, the number and the URL, so that the service redirects only to the links the letter
carried (no open redirect, no number guessed). The unsubscribe link and mailto links stay as they
are. The text part carries the same counted links as the HTML part.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re

from plugins.letters.render import UNSUBSCRIBE_PLACEHOLDER, RenderedLetter
from plugins.records.clicks import ClickBook

LINK_PATH = "/l/"
OPEN_PATH = "/o/"
HREF = re.compile(r'href="(https?://[^"]+)"')
TEXT_URL = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)»]")


def signature(secret: bytes, letter: str, number: int, url: str) -> str:
    return hmac.new(secret, f"{letter}/{number}/{url}".encode(), hashlib.sha256).hexdigest()[:20]


def counted_url(base_url: str, secret: bytes, letter: str, number: int, url: str) -> str:
    return f"{base_url.rstrip('/')}{LINK_PATH}{letter}/{number}/{signature(secret, letter, number, url)}"


def open_url(base_url: str, secret: bytes, letter: str) -> str:
    """The image that counts a letter's opens: the letter and its signature, nothing of its reader."""
    return f"{base_url.rstrip('/')}{OPEN_PATH}{letter}/{signature(secret, letter, 0, 'ouverture')}.gif"


def with_open_image(rendered: RenderedLetter, url: str) -> RenderedLetter:
    image = f'<img src="{html.escape(url)}" width="1" height="1" alt="" style="display:block;border:0">'
    page = rendered.html.replace("</body>", image + "</body>", 1) if "</body>" in rendered.html else rendered.html + image
    return RenderedLetter(page, rendered.text)


def count_links(rendered: RenderedLetter, letter: str, base_url: str, secret: bytes, book: ClickBook) -> RenderedLetter:
    """Return the letter with its web links counted: numbered in the book, in order of first appearance."""
    skip = {UNSUBSCRIBE_PLACEHOLDER}
    in_html = [html.unescape(m) for m in HREF.findall(rendered.html)]
    in_text = TEXT_URL.findall(rendered.text)
    urls = list(dict.fromkeys(u for u in [*in_html, *in_text] if u not in skip))
    numbers = book.number_links(letter, urls)

    def counted(url: str) -> str:
        return counted_url(base_url, secret, letter, numbers[url], url) if url in numbers else url

    new_html = HREF.sub(lambda m: f'href="{html.escape(counted(html.unescape(m[1])))}"', rendered.html)
    new_text = TEXT_URL.sub(lambda m: counted(m[0]), rendered.text)
    return RenderedLetter(new_html, new_text)
