"""Settings of the federation plugin, as written in mkdocs.yml."""

from __future__ import annotations

from mkdocs.config import config_options as c
from mkdocs.config.base import Config


class FederationConfig(Config):
    """`plugins: - federation: ...` in mkdocs.yml."""

    audience = c.Choice(("public", "adherents"), default="public")
    content_dir = c.Type(str, default=".")
    members_site_url = c.Type(str, default="")
    public_site_url = c.Type(str, default="")
    today = c.Optional(c.Type(str))
