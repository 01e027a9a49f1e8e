"""Page plans' fingerprints (plugins/render/incremental.py): what decides that a page is written again."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

from plugins.model import load_content
from plugins.render.incremental import Fingerprinter
from tests.support import REPO


def test_the_same_content_loaded_twice_has_the_same_fingerprints() -> None:
    """Other objects, other processes' ids: the fingerprint is made of the values only."""
    first, second = load_content(REPO), load_content(REPO)
    one, two = Fingerprinter(), Fingerprinter()
    assert [one(o, o.body) for o in first.offers] == [two(o, o.body) for o in second.offers]
    assert one(first.sheets) == two(second.sheets)


def test_every_field_counts_even_in_an_item_another_holds() -> None:
    content = load_content(REPO)
    offer = next(o for o in content.offers if len(o.msp.body) > Fingerprinter.LONG)
    before = Fingerprinter()(offer)
    changes = {
        "title": lambda o: dataclasses.replace(o, title=o.title + " (CDI)"),
        "a long body": lambda o: dataclasses.replace(o, body=o.body + "x"),
        "its MSP's name": lambda o: dataclasses.replace(o, msp=dataclasses.replace(o.msp, name=o.msp.name + " bis")),
        "its MSP's long body": lambda o: dataclasses.replace(o, msp=dataclasses.replace(o.msp, body=o.msp.body[:-1])),
        "a date": lambda o: dataclasses.replace(o, expires=o.expires.replace(year=o.expires.year + 1)),
        "a list": lambda o: dataclasses.replace(o, professions=o.professions[:-1]),
    }
    for what, change in changes.items():
        assert Fingerprinter()(change(offer)) != before, what
    assert Fingerprinter()(copy.deepcopy(offer)) == before


def test_a_long_text_is_not_taken_for_a_short_one() -> None:
    """A long text is fingerprinted by the digest of its bytes: a short text spelling that digest is another value."""
    long = "é" * (Fingerprinter.LONG + 1)
    digest_of_long = Fingerprinter()._reduce(long)
    assert Fingerprinter()(long) != Fingerprinter()(str(digest_of_long))
    assert Fingerprinter()(long) == Fingerprinter()("é" * (Fingerprinter.LONG + 1))


@dataclass
class Node:
    name: str
    children: list[Node] = field(default_factory=list)


def test_an_item_that_holds_itself_is_fingerprinted() -> None:
    node = Node("racine")
    node.children.append(node)
    assert Fingerprinter()(node) == Fingerprinter()(node)
    assert Fingerprinter()(node) != Fingerprinter()(Node("racine"))
