"""Which files of the content folder the public site may carry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plugins.model import Audience, Content
from plugins.model.content import _LINK_TARGET


def linked_files(content: Content, audience: Audience) -> set[Path]:
    """Return the files that items readable by this audience link to from their body."""
    found = set()
    for item in content.all_items():
        if not item.visible_to(audience):
            continue
        for target in _LINK_TARGET.findall(item.body):
            if "://" in target or target.startswith(("#", "mailto:", "tel:")):
                continue
            path = (item.source.parent / target.split("#")[0]).resolve()
            if path.suffix not in (".md", ".yml", ".yaml") and path.is_file():
                found.add(path)
    return found


def public_static_files(content: Content, config: Any) -> set[str]:
    """Return the docs-folder URIs the public site may copy: linked by public items or by the theme."""
    docs = Path(config.docs_dir).resolve()
    keep = {p.relative_to(docs).as_posix() for p in linked_files(content, Audience.PUBLIC) if p.is_relative_to(docs)}
    theme = config.theme
    keep |= {str(x) for x in (theme.get("logo"), theme.get("favicon")) if x}
    keep |= {str(x) for x in [*config.extra_css, *config.extra_javascript]}
    return keep
