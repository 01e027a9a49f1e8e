"""`build.py serve`: incremental rebuilds must write exactly what a full build writes, and the live server must follow edits."""

from __future__ import annotations

import gc
import gzip
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from plugins.build.preview import ORDER, Preview
from plugins.build.site import federation_settings
from plugins.build.sites import build_staged
from plugins.model import Audience, load_content
from plugins.model.content import carry_over
from plugins.plan.pages import OWN_BUNDLE, SHARED_BUNDLE, is_search_bundle
from plugins.render.incremental import CACHE_FILE
from tests.support import REPO, TODAY, free_port

SOURCES = ("content", "toolbox", "newsletters")


def copy_sample(dest: Path) -> Path:
    for name in SOURCES:
        shutil.copytree(REPO / name, dest / name)
    shutil.copy(REPO / "mkdocs.yml", dest / "mkdocs.yml")
    return dest


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a built site but the search index (built in the background by the preview) and the build's cache."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_search_bundle(p.relative_to(root).parts[0]) and p.name != CACHE_FILE
    }


def assert_same_as_full_build(preview: Preview, project: Path, work: Path) -> None:
    """Build both sites from scratch, at the preview's addresses, and compare every file."""
    content = load_content(project)
    for audience in ORDER:
        reference = work / f"reference-{audience.value}-{time.monotonic_ns()}"
        build_staged(content, audience, reference, TODAY, federation_settings(project), site_url=preview.url(audience))
        expected, got = tree(reference), tree(preview.dirs[audience])
        assert sorted(got) == sorted(expected), audience
        different = [name for name in expected if got[name] != expected[name]]
        assert different == [], audience
        shutil.rmtree(reference)


@pytest.fixture
def preview(tmp_path: Path):
    project = copy_sample(tmp_path / "projet")
    preview = Preview(project, TODAY, port=free_port())
    yield preview
    preview.close()
    assert not any(d.exists() for d in preview.dirs.values())


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("processes", ["1", "2"])
def test_each_incremental_rebuild_writes_what_a_full_build_writes(
    preview: Preview, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, processes: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """With two processes, the public site is built in a forked one, which hands its state back."""
    monkeypatch.setenv("BUILD_PROCESSES", processes)
    project = preview.project
    preview.refresh()
    total = sum(s.written for s in preview.states.values())
    assert total > 200
    assert_same_as_full_build(preview, project, tmp_path)

    # The body of a members-only sheet: its page and the pages listing it, nothing else; the public site, which shows
    # its teaser only, is not built again.
    sheet = next(p for p in sorted((project / "toolbox").rglob("*.md")) if "access: public" not in p.read_text("utf-8"))
    sheet.write_text(sheet.read_text("utf-8") + "\nParagraphe ajouté pendant l'aperçu.\n", encoding="utf-8")
    preview.refresh()
    assert "le site public n'a pas changé" in capsys.readouterr().out
    assert 0 < sum(s.written for s in preview.states.values()) < total / 4
    assert preview.states[Audience.PUBLIC].written == 0
    assert_same_as_full_build(preview, project, tmp_path)

    # What its teaser shows (its summary), then what the public toolbox feed shows only (its update date): both sites.
    edit(sheet, "summary: ", "summary: Résumé revu — ")
    preview.refresh()
    assert "le site public n'a pas changé" not in capsys.readouterr().out
    assert_same_as_full_build(preview, project, tmp_path)
    edit(sheet, "\ndate: ", "\nupdated: 2026-11-20\ndate: ")
    preview.refresh()
    assert "le site public n'a pas changé" not in capsys.readouterr().out
    assert_same_as_full_build(preview, project, tmp_path)

    # The title of a public sheet: shown on listings and facet pages of both sites.
    public_sheet = next(p for p in sorted((project / "toolbox").rglob("*.md")) if "access: public" in p.read_text("utf-8"))
    edit(public_sheet, "title: ", "title: Nouveau titre — ")
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)

    # An MSP renamed: its page, the list, its offer's and its story's pages (items carried over from the
    # previous refresh meet new ones: each must show the MSP as it is now).
    edit(project / "content/msp/msp-chateaubriant.md", 'name: "Pôle santé de la Mée"', 'name: "Pôle santé de la Mée et du Don"')
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)

    # An offer edited, its MSP not: the MSP's page lists the new offer (the plan groups offers by MSP object).
    edit(project / "content/offres/coordinatrice-chateaubriant.md", "title: ", "title: Poste modifié — ")
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)

    # An offer deleted, a news item added.
    offer = sorted((project / "content/offres").glob("*.md"))[0]
    offer.unlink()
    news = project / "content/actualites/nouvelle-pendant-apercu.md"
    news.write_text(
        "---\ntitle: Nouvelle écrite pendant l'aperçu\ndate: 2026-11-20\nsummary: Une actualité de test.\n"
        'tags: ["vie de la fédération"]\n---\n\nTexte de la nouvelle.\n',
        encoding="utf-8",
    )
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)

    # mkdocs.yml: every page changes.
    edit(project / "mkdocs.yml", "site_name: ", "site_name: Aperçu — ")
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)
    # A federation setting (in every page's footer), the file's size the same: its settings are read again.
    edit(project / "mkdocs.yml", "phone: 02 40 00 00 00", "phone: 02 40 00 00 99")
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)

    # Nothing changed since: no page written again (the public site's state came back from its process).
    preview.sources = None
    preview.refresh()
    assert {a.value: s.written for a, s in preview.states.items()} == {"public": 0, "adherents": 0}


def test_a_broken_file_keeps_the_previous_preview_and_says_why(preview: Preview, tmp_path: Path, capsys) -> None:
    project = preview.project
    preview.refresh()
    before = tree(preview.dirs[Audience.ADHERENTS])
    sheet = sorted((project / "toolbox").rglob("*.md"))[0]
    good = sheet.read_text("utf-8")
    sheet.write_text(good.replace("title: ", "title: [non fermé ", 1), encoding="utf-8")
    preview.refresh()
    out = capsys.readouterr().out
    assert sheet.relative_to(project / "toolbox").as_posix() in out and "Aperçu non mis à jour" in out
    assert tree(preview.dirs[Audience.ADHERENTS]) == before
    sheet.write_text(good + "\nCorrigé.\n", encoding="utf-8")
    preview.refresh()
    assert "Aperçu à jour" in capsys.readouterr().out
    assert_same_as_full_build(preview, project, tmp_path)


class CountingPreview(Preview):
    """A preview that counts the calls to refresh and how many times a refresh lists the watched files."""

    listed = 0

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []  # one entry per call (list.append: two threads at once lose none)

    def refresh(self) -> None:
        self.calls.append(1)
        super().refresh()

    def _sources(self) -> tuple:
        self.listed += 1
        return super()._sources()


def test_the_other_servers_call_returns_once_a_refresh_has_seen_its_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Both servers call refresh for each change: the call that waited while the other refreshed does not list the files
    again (its server shows the new pages only once it returns), unless that refresh failed."""
    from plugins.build import site as site_module

    preview = CountingPreview(copy_sample(tmp_path / "projet"), TODAY, port=free_port())
    try:
        preview.refresh()
        sheet = sorted((preview.project / "toolbox").rglob("*.md"))[0]

        def both_servers_call() -> None:
            with preview.lock:  # a refresh under way: both calls are made meanwhile and wait
                before = len(preview.calls)
                calls = [threading.Thread(target=preview.refresh) for _ in range(2)]
                for call in calls:
                    call.start()
                deadline = time.monotonic() + 60
                while len(preview.calls) < before + 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(0.2)  # each call notes its time first thing
                preview.listed = 0
            for call in calls:
                call.join(120)

        edit(sheet, "title: ", "title: Vu une fois — ")
        both_servers_call()
        assert preview.listed == 1 and preview.builds == 2
        assert "Vu une fois" in tree(preview.dirs[Audience.ADHERENTS])[page_dest(preview, sheet)].decode("utf-8")

        # The build fails: the second call tries again, and fails again.
        def failing(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise RuntimeError("sorties en panne")

        monkeypatch.setattr(site_module, "write_site_outputs", failing)
        edit(sheet, "title: Vu une fois — ", "title: Vu deux fois — ")
        capsys.readouterr()
        both_servers_call()
        assert preview.listed == 2 and preview.builds == 2
        assert capsys.readouterr().out.count("la construction a échoué") == 2
    finally:
        preview.close()


def page_dest(preview: Preview, sheet: Path) -> str:
    return f"boite-a-outils/fiches/{sheet.relative_to(preview.project / 'toolbox').with_suffix('').as_posix()}/index.html"


def test_the_search_index_follows_in_the_background(preview: Preview) -> None:
    preview.refresh()
    assert preview.indexer.wait_idle(120)
    for audience in ORDER:
        for bundle in (SHARED_BUNDLE, OWN_BUNDLE):
            assert (preview.dirs[audience] / bundle / "pagefind.js").exists(), (audience, bundle)
    # The members' site gets the bundle of the pages both sites share from the public one, as made there.
    shared = {a: (preview.dirs[a] / SHARED_BUNDLE / "pagefind-entry.json").read_bytes() for a in ORDER}
    assert shared[Audience.PUBLIC] == shared[Audience.ADHERENTS]

    # A members' sheet's body: its bundle made again, with the new text; neither the shared bundle nor its copy.
    sheets = sorted((preview.project / "toolbox").rglob("*.md"))
    members_sheet = next(p for p in sheets if "access: public" not in p.read_text("utf-8"))
    before = bundle_files(preview)
    members_sheet.write_text(members_sheet.read_text("utf-8") + "\nMot zorglubadherent.\n", encoding="utf-8")
    preview.refresh()
    assert preview.indexer.wait_idle(120)
    after = bundle_files(preview)
    assert "zorglubadherent" in indexed_text(preview.dirs[Audience.ADHERENTS] / OWN_BUNDLE)
    for audience in ORDER:
        assert after[audience, SHARED_BUNDLE] == before[audience, SHARED_BUNDLE], audience
    assert after[Audience.PUBLIC, OWN_BUNDLE] == before[Audience.PUBLIC, OWN_BUNDLE]
    assert after[Audience.ADHERENTS, OWN_BUNDLE] != before[Audience.ADHERENTS, OWN_BUNDLE]

    # A public sheet's body: the shared bundle made again, with the new text, and copied to the members' site.
    public_sheet = next(p for p in sheets if "access: public" in p.read_text("utf-8"))
    public_sheet.write_text(public_sheet.read_text("utf-8") + "\nMot zorglubpublic.\n", encoding="utf-8")
    preview.refresh()
    assert preview.indexer.wait_idle(120)
    for audience in ORDER:
        assert "zorglubpublic" in indexed_text(preview.dirs[audience] / SHARED_BUNDLE), audience
        assert "zorglubadherent" not in indexed_text(preview.dirs[audience] / SHARED_BUNDLE), audience
    assert "zorglubadherent" in indexed_text(preview.dirs[Audience.ADHERENTS] / OWN_BUNDLE)
    shared = {a: (preview.dirs[a] / SHARED_BUNDLE / "pagefind-entry.json").read_bytes() for a in ORDER}
    assert shared[Audience.PUBLIC] == shared[Audience.ADHERENTS]


def bundle_files(preview: Preview) -> dict[tuple[Audience, str], dict[str, int]]:
    """Each search bundle's files, each with the time it was made or last written (ctime: a copy cannot set it)."""
    return {
        (audience, bundle): {
            p.relative_to(preview.dirs[audience]).as_posix(): p.stat().st_ctime_ns
            for p in (preview.dirs[audience] / bundle).rglob("*")
            if p.is_file()
        }
        for audience in ORDER
        for bundle in (SHARED_BUNDLE, OWN_BUNDLE)
    }


def indexed_text(bundle: Path) -> str:
    """The text of every page a Pagefind bundle holds (its fragments: gzip-compressed JSON, after a signature)."""
    texts = []
    for fragment in sorted((bundle / "fragment").glob("*.pf_fragment")):
        data = gzip.decompress(fragment.read_bytes())
        texts.append(data.decode("utf-8", "replace"))
    return "\n".join(texts)


def wait_for(url: str, needle: str, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if needle in urllib.request.urlopen(url, timeout=5).read().decode("utf-8"):
                return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} absent de {url} après {timeout} s")


def test_serve_follows_an_edit_on_both_sites_and_stops_cleanly(tmp_path: Path) -> None:
    project = copy_sample(tmp_path / "projet")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "build.py"),
            "--project",
            str(project),
            "--today",
            TODAY.isoformat(),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        public, members = f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port + 1}/"
        wait_for(public + "boite-a-outils/", "Boîte à outils", 120)
        wait_for(members + "boite-a-outils/", "Boîte à outils", 30)
        sheet = next(p for p in sorted((project / "toolbox").rglob("*.md")) if "access: public" in p.read_text("utf-8"))
        edit(sheet, "title: ", "title: Titre modifié en direct — ")
        wait_for(public + "boite-a-outils/", "Titre modifié en direct", 30)
        wait_for(members + "boite-a-outils/", "Titre modifié en direct", 30)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert "Aperçu à jour" in output and "Traceback" not in output
    assert "Arrêt de l'aperçu." in output


def test_a_failure_in_the_public_sites_process_is_made_good_next_time(
    preview: Preview, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The forked process may have written part of the public site before failing: the next refresh redoes it all."""
    from plugins.build import site as site_module

    monkeypatch.setenv("BUILD_PROCESSES", "2")
    project = preview.project
    preview.refresh()
    real = site_module.write_site_outputs

    def failing(target, *args, **kwargs):  # type: ignore[no-untyped-def]
        if target.audience is Audience.PUBLIC:
            raise RuntimeError("sorties du site public en panne")
        return real(target, *args, **kwargs)

    monkeypatch.setattr(site_module, "write_site_outputs", failing)
    public_sheet = next(p for p in sorted((project / "toolbox").rglob("*.md")) if "access: public" in p.read_text("utf-8"))
    edit(public_sheet, "title: ", "title: Titre en panne — ")
    preview.refresh()
    assert "la construction a échoué" in capsys.readouterr().out
    monkeypatch.setattr(site_module, "write_site_outputs", real)
    edit(public_sheet, "title: Titre en panne — ", "title: ")  # back to what the states say was built
    preview.refresh()
    assert_same_as_full_build(preview, project, tmp_path)


def test_the_preview_hears_edits_not_reads(tmp_path: Path) -> None:
    """Each refresh reads every source: the servers' observers must not take those reads for edits."""
    import threading

    from watchdog.events import FileSystemEventHandler

    from plugins.build.preview import ChangesObserver

    source = tmp_path / "fiche.md"
    source.write_text("---\ntitle: Fiche\n---\n", "utf-8")
    heard: list[str] = []
    event = threading.Event()

    class Handler(FileSystemEventHandler):
        def on_any_event(self, ev) -> None:  # type: ignore[no-untyped-def]
            if not ev.is_directory:
                heard.append(type(ev).__name__)
                event.set()

    observer = ChangesObserver()
    observer.schedule(Handler(), str(tmp_path), recursive=True)
    observer.start()
    try:
        time.sleep(0.3)
        for _ in range(20):
            source.read_bytes()
        assert not event.wait(1.0), heard
        source.write_text("---\ntitle: Fiche relue\n---\n", "utf-8")
        assert event.wait(5.0)
        assert heard and all(name in {"FileModifiedEvent", "FileClosedEvent"} for name in heard), heard
    finally:
        observer.stop()
        observer.join(timeout=10)


def test_a_refresh_carries_over_the_items_it_finds_unchanged(tmp_path: Path) -> None:
    """carry_over: the items equal to the previous load's are its objects; an MSP is one object for every item."""
    project = copy_sample(tmp_path / "projet")
    first = carry_over(None, load_content(project))
    again = carry_over(first, load_content(project))
    assert all(any(item is old for old in first.all_items()) for item in again.all_items())

    edit(project / "content/msp/msp-chateaubriant.md", 'name: "Pôle santé de la Mée"', 'name: "Pôle santé du Don"')
    sheet = next(p for p in sorted((project / "toolbox").rglob("*.md")))
    sheet.write_text(sheet.read_text("utf-8") + "\nUne phrase de plus.\n", encoding="utf-8")
    edited = carry_over(again, load_content(project))
    before = {(type(item), item.rel): item for item in again.all_items()}
    new = sorted(item.rel for item in edited.all_items() if before[(type(item), item.rel)] is not item)
    rel = lambda path: path.relative_to(project).as_posix()  # noqa: E731
    assert new == sorted(
        [
            "content/inspir-cafe/inspir-cafe-usagers-chateaubriant.md",  # the story and the offer show the MSP
            "content/msp/msp-chateaubriant.md",
            "content/offres/coordinatrice-chateaubriant.md",
            rel(sheet),
        ]
    )
    msps = {id(m) for m in edited.msps}
    assert all(id(item.msp) in msps for item in [*edited.offers, *edited.stories] if item.msp is not None)

    edit(project / "content/offres/coordinatrice-chateaubriant.md", "title: ", "title: Poste modifié — ")
    last = carry_over(edited, load_content(project))
    offer = next(o for o in last.offers if o.slug == "coordinatrice-chateaubriant")
    assert all(o is not offer for o in edited.offers)  # a new object
    assert offer.msp is next(m for m in edited.msps if m.slug == "msp-chateaubriant")  # the MSP carried over


def test_what_a_refresh_keeps_does_not_grow_with_refreshes(preview: Preview) -> None:
    """Frozen out of the collector (Preview._settle), a build's objects still alive at its end would stay until
    everything is unfrozen: each refresh's MkDocs files and pages (2,300 objects a refresh on the sample, 22 MB at
    ten times the federation's volume) did, through the parser kept by the plugin. The fingerprinter keeps the
    items' reductions, not those of each build's cards and feed entries."""
    sheet = next(p for p in sorted((preview.project / "toolbox").rglob("*.md")) if "access: public" not in p.read_text("utf-8"))
    kept = []
    for number in range(5):
        sheet.write_text(sheet.read_text("utf-8") + f"\nParagraphe {number}.\n", encoding="utf-8")
        preview.refresh()
        kept.append((gc.get_freeze_count(), preview.fingerprinter.kept))
    assert preview.frozen == 5  # no unfreezing in between
    frozen, fingerprints = zip(*kept, strict=True)
    assert frozen[-1] - frozen[1] < 3 * 300, frozen
    assert len(set(fingerprints[1:])) == 1, fingerprints
    items = sum(1 for _ in preview.content.all_items()) if preview.content else 0
    assert 0 < fingerprints[-1] <= 3 * items
