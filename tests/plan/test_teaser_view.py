"""Public templates never hold a members' sheet: the site plan hands them a teaser view of it instead."""

from __future__ import annotations

from datetime import date

from plugins.model import Audience, ToolboxSheet, load_content
from plugins.plan.pages import SheetTeaser, SitePlan
from tests.support import REPO, TODAY


def reachable(value: object, seen: set[int] | None = None):
    """Yield every value a template could reach from a page's context (containers walked, items as they are)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from reachable(item, seen)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from reachable(item, seen)


def test_no_public_page_context_holds_a_members_sheet() -> None:
    content = load_content(REPO)
    locked = [s for s in content.sheets if not s.visible_to(Audience.PUBLIC)]
    assert locked, "the sample has members' sheets"
    plan = SitePlan(content, Audience.PUBLIC, TODAY)
    teasers = 0
    for spec in plan.pages():
        for value in reachable(spec.context):
            assert not (isinstance(value, ToolboxSheet) and not value.visible_to(Audience.PUBLIC)), spec.src_uri
            teasers += isinstance(value, SheetTeaser)
        if spec.template == "teaser.html":
            assert spec.markdown == "" and isinstance(spec.context["item"], SheetTeaser)
    assert teasers >= len(locked)  # each locked sheet is shown, as a teaser


def test_the_teaser_holds_only_what_the_public_may_see() -> None:
    sheet = next(s for s in load_content(REPO).sheets if s.keywords and s.attachments and not s.visible_to(Audience.PUBLIC))
    teaser = SheetTeaser.of(sheet)
    assert not hasattr(teaser, "body") and not hasattr(teaser, "keywords") and not hasattr(teaser, "attachments")
    assert (teaser.title, teaser.summary, teaser.date) == (sheet.title, sheet.summary, sheet.date)
    assert isinstance(teaser.date, date) and not teaser.visible_to(Audience.ADHERENTS)
