"""The links of the letters sent and how often each was followed, per day: counts, never people.

No row holds an address, a subscriber, a client or a cookie: a link is (letter, number, URL), a
click adds one to (letter, number, day). Whether a client already followed a link in the last
minutes is known in memory only, by a salted digest renewed each day (plugins/service/links.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from plugins.base.sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS letter_links (
    letter TEXT NOT NULL,
    number INTEGER NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (letter, number),
    UNIQUE (letter, url)
);
CREATE TABLE IF NOT EXISTS letter_opens (
    letter TEXT NOT NULL,
    day TEXT NOT NULL,
    opens INTEGER NOT NULL,
    PRIMARY KEY (letter, day)
);
CREATE TABLE IF NOT EXISTS link_clicks (
    letter TEXT NOT NULL,
    number INTEGER NOT NULL,
    day TEXT NOT NULL,
    clicks INTEGER NOT NULL,
    PRIMARY KEY (letter, number, day)
);
"""


@dataclass(frozen=True)
class LinkCount:
    number: int
    url: str
    clicks: int


class ClickBook(Store):
    """The links each letter carried, numbered once for all its copies, and their clicks per day."""

    schema = SCHEMA

    def number_links(self, letter: str, urls: list[str]) -> dict[str, int]:
        """Give each URL of a letter its number (the same as at an earlier run of the same letter); return them."""
        with self.transaction() as db:
            known = dict(db.execute("SELECT url, number FROM letter_links WHERE letter = ?", (letter,)).fetchall())
            last = max(known.values(), default=0)
            for url in urls:
                if url not in known:
                    last += 1
                    known[url] = last
                    db.execute("INSERT INTO letter_links (letter, number, url) VALUES (?, ?, ?)", (letter, last, url))
        return {url: known[url] for url in urls}

    def url(self, letter: str, number: int) -> str | None:
        with self.reading() as db:
            row = db.execute("SELECT url FROM letter_links WHERE letter = ? AND number = ?", (letter, number)).fetchone()
        return row[0] if row else None

    def count(self, letter: str, number: int, day: date) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO link_clicks (letter, number, day, clicks) VALUES (?, ?, ?, 1)"
                " ON CONFLICT (letter, number, day) DO UPDATE SET clicks = clicks + 1",
                (letter, number, day.isoformat()),
            )

    def opened(self, letter: str, day: date) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO letter_opens (letter, day, opens) VALUES (?, ?, 1)"
                " ON CONFLICT (letter, day) DO UPDATE SET opens = opens + 1",
                (letter, day.isoformat()),
            )

    def opens(self, letter: str) -> int | None:
        """The letter's opens counted (None if it never carried the image)."""
        with self.reading() as db:
            row = db.execute("SELECT SUM(opens) FROM letter_opens WHERE letter = ?", (letter,)).fetchone()
        return row[0]

    def links(self, letter: str) -> list[LinkCount]:
        """Every link of the letter with its clicks, in the letter's order."""
        with self.reading() as db:
            rows = db.execute(
                "SELECT l.number, l.url, COALESCE(SUM(c.clicks), 0) FROM letter_links l"
                " LEFT JOIN link_clicks c ON c.letter = l.letter AND c.number = l.number"
                " WHERE l.letter = ? GROUP BY l.number, l.url ORDER BY l.number",
                (letter,),
            ).fetchall()
        return [LinkCount(n, url, clicks) for n, url, clicks in rows]
