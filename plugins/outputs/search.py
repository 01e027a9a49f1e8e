"""Full-text search with Pagefind, run on one built site (its own index, nothing from the other)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INDEX_DIR = "pagefind"
# The "#" that Markdown's toc extension appends to every heading of editors' text: no template can mark it
# data-pagefind-ignore, and indexed it would end every sub-result's title and sit in the excerpts.
EXCLUDED = "a.headerlink"


class SearchIndexError(RuntimeError):
    """Pagefind failed; the message is French."""


def index_site(site_dir: Path) -> None:
    """Index the pages marked data-pagefind-body under site_dir into site_dir/pagefind/."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pagefind",
            "--site",
            str(site_dir),
            "--output-subdir",
            INDEX_DIR,
            "--exclude-selectors",
            EXCLUDED,
            "--force-language",
            "fr",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SearchIndexError(
            f"l'index de recherche n'a pas pu être construit pour {site_dir} :\n{result.stdout}{result.stderr}"
        )
