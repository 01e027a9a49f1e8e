"""has_link answers as the LINK regex does, on crafted texts and on every page of the sample."""

from __future__ import annotations

import pytest

from plugins.build.site import federation_settings
from plugins.model import Audience, load_content
from plugins.plan.pages import SitePlan
from plugins.render.plugin import LINK, has_link
from tests.support import REPO, TODAY

CASES = [
    ("[texte](https://exemple.org)", True),
    ("[texte][ref]\n\n[ref]: https://exemple.org", True),
    ('<a href="x">', True),
    ("href=x au début", True),
    ('<img src="x.png">', True),
    ("un_href=x", False),  # _ is a word character
    ("ahref=x et 1src=y", False),
    ("éhref=x", False),  # so is a letter with an accent
    ("—href=x", True),
    ("[crochets] (espacés) et : deux-points", False),
    ("", False),
    ("srcset=x href", False),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_crafted_texts(text: str, expected: bool) -> None:
    assert (LINK.search(text) is not None) is expected
    assert has_link(text) is expected


def test_every_page_of_the_sample() -> None:
    settings = federation_settings(REPO)
    content = load_content(REPO)
    pages = [
        spec.markdown
        for audience in Audience
        for spec in SitePlan(content, audience, TODAY, settings.privacy, settings.join_page, settings.membership).pages()
    ]
    with_links = [has_link(m) for m in pages]
    assert with_links == [LINK.search(m) is not None for m in pages]
    assert any(with_links) and not all(with_links)
