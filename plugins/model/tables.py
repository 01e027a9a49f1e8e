"""The staff's CSV files (accounts, subscribers, readers to import): one way to read them.

UTF-8 with or without a BOM (a spreadsheet's export), « ; » or « , » as the header line says
(French spreadsheets write « ; »), header names trimmed and lower-cased. Each caller checks its
own columns and reports its own problems with reader.line_num.
"""

from __future__ import annotations

import csv
import io


def table(text: str) -> csv.DictReader:
    """Return a DictReader over a CSV text, its delimiter taken from the header line, its field names normalised."""
    text = text.removeprefix("\ufeff")
    first = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=";" if first.count(";") > first.count(",") else ",")
    reader.fieldnames = [h.strip().lower() for h in reader.fieldnames or []]
    return reader
