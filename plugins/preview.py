"""Preview both sites locally with live reload (`build.py serve`)."""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from datetime import date
from pathlib import Path

from mkdocs.commands.build import build as mkdocs_build
from mkdocs.livereload import LiveReloadServer

from plugins.builder import SITE_DIRS, site_config
from plugins.model import Audience, ContentError, load_content

log = logging.getLogger("plugins.preview")
WATCHED = ("content", "toolbox", "newsletters", "mkdocs.yml")


def preview_server(project: Path, audience: Audience, today: date, host: str, port: int) -> LiveReloadServer:
    """Return a live-reload server that rebuilds one audience's site on every change."""
    site_dir = Path(tempfile.mkdtemp(prefix=f"apercu-{SITE_DIRS[audience]}-"))
    url = f"http://{host}:{port}/"

    def builder() -> None:
        try:
            content = load_content(project)
        except ContentError as exc:
            print(exc.report())
            return
        config = site_config(project, audience, site_dir, url)
        config.plugins["federation"].prepare(content, audience, today)
        mkdocs_build(config, serve_url=url)

    server = LiveReloadServer(builder=builder, host=host, port=port, root=str(site_dir))
    for name in WATCHED:
        if (project / name).exists():
            server.watch(str(project / name))
    builder()
    return server


def serve(project: Path, today: date, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve the public site on port and the members' site on port + 1 until Ctrl+C."""
    public = preview_server(project, Audience.PUBLIC, today, host, port)
    members = preview_server(project, Audience.ADHERENTS, today, host, port + 1)
    print(f"Site public : http://{host}:{port}/  —  espace adhérents : http://{host}:{port + 1}/  (Ctrl+C pour arrêter)")
    thread = threading.Thread(target=public.serve, daemon=True)
    thread.start()
    try:
        members.serve()
    except KeyboardInterrupt:
        print("Arrêt de l'aperçu.")
    finally:
        for server in (public, members):
            server.shutdown()
            shutil.rmtree(server.root, ignore_errors=True)
