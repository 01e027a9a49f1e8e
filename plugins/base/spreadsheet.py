"""Cells of the CSV files the staff open in a spreadsheet, made harmless (OWASP's « CSV injection »).

What the public types in a form (a team's name, an answer to an event's question…) ends up in
the staff's exports. Excel and LibreOffice Calc read a cell that starts with « = », « + », « - »
or « @ » as a formula: « =HYPERLINK(…) » would show a link that sends the sheet's data away, and
older versions ran commands through DDE. Stdlib only, so that any export can use it.
"""

from __future__ import annotations

from collections.abc import Iterable

# Unicode bidi controls: they can make a cell read differently from what it holds (« Trojan Source »)
# and would hide a dangerous first character behind an invisible one, so they are removed.
BIDI_CONTROLS = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C],
)
# OWASP's list, plus the full-width forms (＝ ＋ － ＠): LibreOffice 7.4's CSV import keeps them as text,
# but a spreadsheet that folds them to their ASCII twins would read a formula.
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")


def cell(value: str) -> str:
    """Return value as text a spreadsheet will not run: without bidi controls, and after a « ' » if it could start a formula.

    OWASP's rule: a cell whose first character is = + - @ tab or carriage return gets a
    single quote in front, which makes the spreadsheet show it as text; the staff still read
    what was typed. Only the first character counts (a value such as « 2027-01-05 » or an
    email address is left as it is), and an empty value stays empty.
    """
    text = value.translate(BIDI_CONTROLS)
    if text and text[0] in FORMULA_STARTS:
        return "'" + text
    return text


def rows(table: Iterable[Iterable[str]]) -> list[list[str]]:
    """Return the table with cell() applied to every value, ready for csv.writer."""
    return [[cell(value) for value in row] for row in table]
