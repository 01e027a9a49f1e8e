"""The two processes of a build: the public site's sends its conversions of shared pages to the members' site's.

Real processes (forked, as the build forks them) and a real pipe; the whole build's bytes are
checked against a one-process build in tests/build/test_warm_build.py.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from mkdocs.structure.toc import get_toc

from plugins.base.processes import ReceivedPages, SentPages, Worker
from plugins.outputs.search import SearchIndexError, index_bundle
from plugins.render.plugin import RenderedPage, rendered_key

KEYS = [rendered_key(f"actualites/item-{n}.md", f"# Titre {n}\n\nTexte {n} é.") for n in range(300)]


def page(n: int) -> RenderedPage:
    toc = get_toc([{"level": 2, "id": f"partie-{n}", "name": f"Partie {n}", "html": f"Partie {n}", "children": []}])
    return RenderedPage(f'<h2 id="partie-{n}">Partie {n}</h2><p>Texte {n} é.</p>' * 50, toc, {f"partie-{n}"})


def send_pages(send, numbers: list[int], pause: float = 0.0) -> int:
    sent = SentPages(send)
    for n in numbers:
        sent[KEYS[n]] = page(n)
        time.sleep(pause)
    sent.close()
    return len(numbers)


def pipe():
    return multiprocessing.get_context("fork").Pipe(duplex=False)


def test_every_conversion_sent_is_received_as_it_was_made() -> None:
    """300 small pages fit in the pipe (1 MB): the other process ends without waiting for them to be read."""
    receive, send = pipe()
    worker = Worker(send_pages, send, list(range(300)))
    send.close()
    received = ReceivedPages(receive)
    assert worker.result() == 300
    for n in range(300):
        got = received.pop(KEYS[n])
        assert isinstance(got, RenderedPage)
        assert got.html == page(n).html and got.anchors == {f"partie-{n}"}
        assert [(a.id, a.title, a.level) for a in got.toc] == [(f"partie-{n}", f"Partie {n}", 2)]
    assert received.pop(KEYS[0]) is None  # each conversion is used once, then freed
    received.close()


def test_a_page_converted_here_first_drops_its_late_conversion() -> None:
    receive, send = pipe()
    received = ReceivedPages(receive)
    assert received.pop(KEYS[5]) is None  # the members' site reached it first and converts it itself
    worker = Worker(send_pages, send, [5, 6])
    send.close()
    worker.result()
    assert isinstance(received.pop(KEYS[6]), RenderedPage)
    assert len(received) == 0  # the late one was not kept
    received.close()


def test_the_members_site_neither_waits_nor_fails_when_the_other_process_dies() -> None:
    receive, send = pipe()
    worker = Worker(send_pages, send, list(range(300)), 0.01)  # batches of 64 every 0.64 s
    send.close()
    received = ReceivedPages(receive)
    time.sleep(1.0)
    os.kill(worker._process.pid, signal.SIGKILL)
    with pytest.raises(RuntimeError, match="s'est arrêté"):
        worker.result()
    found = [n for n in range(300) if received.pop(KEYS[n]) is not None]
    assert 0 < len(found) < 300  # what arrived is used, the rest is converted here
    received.close()


def send_many(send, rounds: int) -> int:
    sent = SentPages(send)
    for n in range(rounds * len(KEYS)):
        sent[KEYS[n % len(KEYS)]] = page(n % len(KEYS))
    sent.close()
    return rounds * len(KEYS)


@pytest.mark.parametrize("close", [True, False])
def test_the_other_process_ends_when_the_members_site_stops_reading_before_it_is_done(close: bool) -> None:
    """The members' site done first (its pages were its own, or unchanged) stops reading: the public site's process must
    not wait for room in a full pipe (7 MB sent, 1 MB of pipe). The fork copies this process's reading end: the worker
    closes it (close=), else its writes would wait forever for a reader that is itself."""
    receive, send = pipe()
    worker = Worker(send_many, send, 8, close=(receive,) if close else ())
    send.close()
    received = ReceivedPages(receive)
    received.close()  # before reading anything

    def wait() -> None:
        with contextlib.suppress(RuntimeError):
            worker.result()

    done = threading.Thread(target=wait, daemon=True)
    done.start()
    done.join(timeout=10)
    stuck = done.is_alive()
    if stuck:
        worker.stop()  # its result() then says that it stopped
    assert stuck is not close
    if close:
        assert worker.result() == 8 * len(KEYS)


def test_an_error_in_the_other_process_comes_back_with_its_message_and_where_it_was_raised() -> None:
    def fail() -> None:
        raise ValueError("fiche illisible")

    worker = Worker(fail)
    with pytest.raises(ValueError, match="fiche illisible") as raised:
        worker.result()
    assert "in fail" in str(raised.value.__cause__)


def test_a_page_name_that_is_not_a_slug_stops_the_search_index(tmp_path: Path) -> None:
    with pytest.raises(SearchIndexError, match="nom de page inattendu"):
        index_bundle(tmp_path, "pagefind", ["actualites/a,b.md"])


def _warn_and_return() -> str:
    import logging as logging_module

    logging_module.getLogger("mkdocs.test").warning("un avertissement écrit par le second processus")
    print("une ligne écrite par le second processus")
    return "fini"


def test_a_worker_writes_even_if_another_thread_held_the_stream_at_the_fork(tmp_path: Path, monkeypatch) -> None:
    """The preview forks while its servers write: a stream lock held by another thread at the fork stays held in the
    forked process. Its writes go through new objects (processes.fresh_std_streams), so it does not hang."""
    import io
    import logging as logging_module
    import sys
    import threading

    release = threading.Event()
    entered = threading.Event()
    target = (tmp_path / "sortie.txt").open("wb")

    class Slow(io.RawIOBase):
        """A stream whose writes wait: the thread writing holds the buffered stream's lock meanwhile."""

        def writable(self) -> bool:
            return True

        def fileno(self) -> int:
            return target.fileno()

        def write(self, data) -> int:  # type: ignore[no-untyped-def]
            entered.set()
            release.wait(30)
            return target.write(bytes(data))

    # Before forking, multiprocessing flushes the streams, waiting for the lock; another thread may take it again
    # between that flush and the fork. The test makes that moment certain: no flush.
    import multiprocessing.util

    monkeypatch.setattr(multiprocessing.util, "_flush_std_streams", lambda: None)
    stream = io.TextIOWrapper(io.BufferedWriter(Slow(), buffer_size=16), encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", stream)
    handler = logging_module.StreamHandler(stream)
    logger = logging_module.getLogger("mkdocs.test")
    logger.addHandler(handler)
    writer = threading.Thread(target=lambda: (stream.write("x" * 64), stream.flush()), daemon=True)
    writer.start()
    try:
        assert entered.wait(10)
        worker = Worker(_warn_and_return)  # forked while the writer thread holds the stream
        worker._process.join(20)
        hung = worker._process.is_alive()
        if hung:
            worker.stop()
        assert not hung, "the forked process hung on the stream another thread held"
        assert worker.result() == "fini"
    finally:
        release.set()
        writer.join(10)
        logger.removeHandler(handler)
        target.close()
    assert "un avertissement écrit par le second processus" in (tmp_path / "sortie.txt").read_text("utf-8")


def test_a_search_index_failing_on_the_public_site_stops_the_build_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The public site's search bundles are indexed in a thread while this process writes the letters, then the
    members' site's in another: the first one's failure is the build's, in French; the second is not started, the
    staging folder is deleted once nothing writes into it any more, and the site built before stays as it was."""
    from plugins.build import sites as builder
    from plugins.plan.pages import OWN_BUNDLE
    from tests.support import TODAY, make_project, write_files

    root = make_project(tmp_path)
    builder.build_all(root, root / "site", TODAY)
    before = {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()}
    real, indexed = builder.index_sources, []

    def failing(site_dir: Path, name: str, kept: Path | None = None) -> None:
        if (site_dir.name, name) == ("public", OWN_BUNDLE):
            time.sleep(0.5)  # the letters are written meanwhile
            raise SearchIndexError("l'index de recherche n'a pas pu être construit (essai)")
        real(site_dir, name, kept)
        indexed.append((site_dir.name, name))

    monkeypatch.setattr(builder, "index_sources", failing)
    monkeypatch.setattr(builder, "build_processes", lambda: 2)
    sheet = (root / "toolbox/fiche-rcp.md").read_text("utf-8")  # a members' sheet: a new teaser on the public site
    write_files(root, {"toolbox/fiche-rcp-bis.md": sheet.replace("Organiser une RCP", "Organiser une autre RCP")})
    with pytest.raises(SearchIndexError, match="essai"):
        builder.build_all(root, root / "site", TODAY)
    assert ("adherents", OWN_BUNDLE) not in indexed
    assert {p: p.read_bytes() for p in (root / "site").rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []
