"""Tiny projects in tmp_path: the repo's mkdocs.yml and identity with a few content files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    TODAY,
    make_project,
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright, headless."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both sites built once from the sample content shipped in the repository."""
    from plugins.build.sites import build_all

    output = tmp_path_factory.mktemp("echantillon") / "site"
    build_all(REPO, output, TODAY, strict=True)
    return output
