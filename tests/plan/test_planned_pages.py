"""The plan's pages as MkDocs files (plugins/render/plugin.py, PlannedPage): what File.generated makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from mkdocs.structure.files import File, InclusionLevel

from plugins.build.site import federation_settings, site_config
from plugins.model import Audience, load_content
from plugins.plan.pages import SitePlan
from plugins.render.plugin import PlannedPage
from tests.support import REPO, TODAY

FIELDS = ("src_uri", "src_path", "src_dir", "dest_uri", "dest_path", "url", "abs_src_path", "abs_dest_path", "name")
FIELDS += ("generated_by", "inclusion", "edit_uri", "content_string")


@pytest.mark.parametrize("directory_urls", [True, False])
@pytest.mark.parametrize("audience", list(Audience))
def test_every_page_of_the_plan_is_the_file_mkdocs_would_make(
    tmp_path: Path, audience: Audience, directory_urls: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = site_config(REPO, audience, tmp_path / "site")
    config.use_directory_urls = directory_urls
    # What MkDocs sets while it runs a plugin's event (File.generated reads it): the plugin runs in on_files.
    monkeypatch.setattr(config.plugins, "_current_plugin", "federation", raising=False)
    settings = federation_settings(REPO)
    plan = SitePlan(load_content(REPO), audience, TODAY, settings.privacy, settings.join_page, settings.membership)
    specs = list(plan.pages())
    uris = [spec.src_uri for spec in specs]
    assert "index.md" in uris and any(uri.count("/") >= 2 for uri in uris)  # the home and nested pages are among them
    for spec in specs:
        made = File.generated(config, spec.src_uri, content=spec.markdown, inclusion=InclusionLevel.NOT_IN_NAV)
        planned = PlannedPage(
            config.site_dir, config.use_directory_urls, spec.src_uri, spec.markdown, InclusionLevel.NOT_IN_NAV, made.generated_by
        )
        for name in FIELDS:
            assert getattr(planned, name) == getattr(made, name), (spec.src_uri, name)
        assert planned.is_documentation_page() and made.is_documentation_page()
