"""Plain-Python content model: load, validate and query what editors commit.

Nothing here imports MkDocs: the site adapter, feeds, calendars and newsletters
all read this model.
"""

from plugins.model.content import Content, load_content
from plugins.model.entities import (
    Audience,
    Event,
    Item,
    JobOffer,
    Letter,
    Msp,
    NewsItem,
    Page,
    Question,
    SignUp,
    Story,
    ToolboxSheet,
)
from plugins.model.problems import ContentError, Problem

__all__ = [
    "Audience",
    "Content",
    "ContentError",
    "Event",
    "Item",
    "JobOffer",
    "Letter",
    "Msp",
    "NewsItem",
    "Page",
    "Problem",
    "Question",
    "SignUp",
    "Story",
    "ToolboxSheet",
    "load_content",
]
