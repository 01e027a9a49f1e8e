"""Backups of what cannot be rebuilt: the service's base, the send ledger, nginx's passwords, the DKIM key, the links' key.

`build.py sauvegarde` takes a consistent snapshot of each SQLite store with SQLite's online backup API
while the service keeps writing (never a file copy, which can catch a store half-written), checks it
with PRAGMA integrity_check, and packs everything into one dated archive, readable by its owner only,
with a manifest of what each file is and where it came from. It keeps 14 daily and 8 weekly archives.

`build.py restaurer ARCHIVE` checks every store of the archive first, then writes each back where the
configuration says it lives now, a store through the same backup API (the service may keep running:
its connections see the restored base at their next request), a file by an atomic rename.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from plugins.base.french_cli import counted
from plugins.base.locking import private_file

FORMAT = 1
MANIFEST = "manifeste.json"
NAME = re.compile(r"sauvegarde-(\d{8}T\d{6}Z)\.tar\.gz\Z")
KEEP_DAILY, KEEP_WEEKLY = 14, 8


@dataclass(frozen=True)
class Part:
    """One thing a backup holds: the variable that says where it lives, what it is, in French, and its kind."""

    variable: str
    what: str
    kind: str  # "sqlite", "file" or "secret" (a value of the environment, not a file)
    member: str  # its name inside the archive


PARTS = (
    Part(
        "LETTER_DB",
        "base du service (lecteurs, inscriptions, adhésions, comptes, file des messages)",
        "sqlite",
        "bases/service.sqlite",
    ),
    Part("LETTER_LEDGER", "registre des envois", "sqlite", "bases/envois.sqlite"),
    Part("FEDERATION_HTPASSWD", "mots de passe de l'espace adhérents (htpasswd de nginx)", "file", "fichiers/htpasswd"),
    Part("DKIM_KEY_FILE", "clé DKIM", "file", "fichiers/dkim.pem"),
    Part("LETTER_SECRET", "clé des liens signés", "secret", "secrets/LETTER_SECRET"),
)


class BackupError(Exception):
    """A backup or a restore that cannot be done as asked: said in French, nothing changed."""


def size_fr(n: int) -> str:
    """Return a size as French readers write it: « 812 o », « 12 ko », « 1,4 Mo »."""
    if n < 1000:
        return f"{n} o"
    if n < 1_000_000:
        return f"{round(n / 1000)} ko"
    return f"{n / 1_000_000:.1f} Mo".replace(".", ",")


def snapshot(source: Path, target: Path) -> None:
    """Copy a live SQLite store into target with SQLite's backup API (one step: a consistent snapshot), then check it."""
    if not source.is_file():
        raise BackupError(f"Base introuvable : {source}")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # pages=-1: every page in one step, under one read transaction
        dst.execute("PRAGMA journal_mode=DELETE")  # the snapshot is one file, without -wal
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} : base abîmée ou illisible ({exc}) ; restaurez la dernière sauvegarde saine") from None
    finally:
        src.close()
        dst.close()
    check_store(target)


def check_store(path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        result = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} : ce n'est pas une base SQLite lisible ({exc})") from None
    finally:
        db.close()
    if result != [("ok",)]:
        raise BackupError(f"{path.name} : la vérification d'intégrité a échoué ({'; '.join(r[0] for r in result[:3])})")


def locations(env: Mapping[str, str]) -> dict[str, str]:
    """Return, for each part the configuration names, its path (or the secret's value); none is required alone,
    but a backup with nothing in it is refused."""
    return {part.variable: env[part.variable] for part in PARTS if env.get(part.variable)}


def take_backup(folder: Path, env: Mapping[str, str], now: datetime, say: Callable[[str], None] = print) -> Path:
    """Write one archive of every part the configuration names into folder; keep 14 daily and 8 weekly; return its path."""
    if not folder.is_dir():
        raise BackupError(f"Dossier des sauvegardes introuvable : {folder} (créez-le, lisible par l'exploitant seul)")
    found = locations(env)
    if not found:
        names = ", ".join(p.variable for p in PARTS)
        raise BackupError(f"Rien à sauvegarder : aucune de ces variables n'est définie ({names}).")
    not_yet = []
    for part in PARTS:
        if part.variable not in found or part.kind == "secret" or Path(found[part.variable]).is_file():
            continue
        where = Path(found[part.variable])
        if part.kind == "sqlite" and where.parent.is_dir():
            # a store is created by its first use (the ledger by the first send): nothing to keep yet
            not_yet.append(part)
            continue
        raise BackupError(f"{part.variable} : {where} introuvable ; rien n'a été sauvegardé.")
    for part in not_yet:
        del found[part.variable]
    if not found:
        raise BackupError("Rien à sauvegarder : les bases nommées ne sont pas encore créées.")
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / f"sauvegarde-{stamp}.tar.gz"
    if target.exists():
        raise BackupError(f"{target} existe déjà : une sauvegarde vient d'être faite.")
    manifest: dict = {"format": FORMAT, "made": now.astimezone(UTC).isoformat(timespec="seconds"), "parts": []}
    said = []
    with tempfile.TemporaryDirectory(prefix="sauvegarde-", dir=folder) as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        for part in PARTS:
            if part.variable not in found:
                continue
            copy = work / part.member
            copy.parent.mkdir(parents=True, exist_ok=True)
            if part.kind == "sqlite":
                snapshot(Path(found[part.variable]), copy)
            elif part.kind == "file":
                shutil.copyfile(found[part.variable], copy)
            else:
                copy.write_text(found[part.variable], encoding="utf-8")
            data = copy.read_bytes()
            source = found[part.variable] if part.kind != "secret" else ""
            manifest["parts"].append(
                {
                    "variable": part.variable,
                    "member": part.member,
                    "kind": part.kind,
                    "source": source,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
            said.append(f"  {part.what} ({part.variable}) : {size_fr(len(data))}")
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
        partial = folder / f".{target.name}.partiel"
        private_file(partial)
        with tarfile.open(partial, "w:gz") as tar:
            for path in sorted(work.rglob("*")):
                if path.is_file():
                    tar.add(path, arcname=path.relative_to(work).as_posix())
        os.replace(partial, target)
    say(f"Sauvegarde du {now.astimezone(UTC):%d/%m/%Y à %H:%M:%S} UTC :")
    for line in said:
        say(line)
    for part in not_yet:
        say(f"  {part.what} ({part.variable}) : pas encore créé, rien à garder ({env[part.variable]})")
    removed = prune(folder, target)
    if removed:
        say(
            f"{counted(len(removed), 'ancienne sauvegarde effacée', 'anciennes sauvegardes effacées')} (gardées : {KEEP_DAILY} jours, {KEEP_WEEKLY} semaines)."
        )
    say(f"Archive ({size_fr(target.stat().st_size)}) :")
    say(str(target))
    return target


def archive_day(path: Path) -> date | None:
    match = NAME.fullmatch(path.name)
    return datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").date() if match else None


def prune(folder: Path, made: Path) -> list[Path]:
    """Delete the archives beyond the newest of each of the last 14 days and of the last 8 ISO weeks; return them."""
    archives = sorted((p for p in folder.iterdir() if archive_day(p) is not None), key=lambda p: p.name, reverse=True)
    keep = {made}
    days: set[date] = set()
    weeks: set[tuple[int, int]] = set()
    for path in archives:
        day = archive_day(path)
        assert day is not None
        if day not in days and len(days) < KEEP_DAILY:
            days.add(day)
            keep.add(path)
        week = day.isocalendar()[:2]
        if week not in weeks and len(weeks) < KEEP_WEEKLY:
            weeks.add(week)
            keep.add(path)
    removed = [p for p in archives if p not in keep]
    for path in removed:
        path.unlink()
    return removed


def read_archive(archive: Path, into: Path) -> dict:
    """Unpack an archive into a private folder and check it: its manifest, each file's digest, each store's integrity."""
    if not archive.is_file():
        raise BackupError(f"Archive introuvable : {archive}")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{archive} : archive illisible ({exc})") from None
    try:
        manifest = json.loads((into / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise BackupError(f"{archive} : sans manifeste lisible, ce n'est pas une sauvegarde de build.py") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} : format {manifest.get('format')} inconnu de cette version")
    for entry in manifest["parts"]:
        data = (into / entry["member"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise BackupError(f"{archive} : {entry['member']} ne correspond pas au manifeste (archive abîmée)")
        if entry["kind"] == "sqlite":
            check_store(into / entry["member"])
    return manifest


def restore(archive: Path, env: Mapping[str, str], say: Callable[[str], None] = print) -> list[str]:
    """Put every part of the archive back where the configuration says it lives now; nothing if anything is wrong.

    Return the warnings said (a links' key that differs from the one in use).
    """
    warnings = []
    with tempfile.TemporaryDirectory(prefix="restauration-") as tmp:
        work = Path(tmp)
        os.chmod(work, 0o700)
        manifest = read_archive(archive, work)
        parts = {p.variable: p for p in PARTS}
        targets = {}
        for entry in manifest["parts"]:
            variable = entry["variable"]
            if variable not in parts:
                raise BackupError(f"{archive} : partie {variable} inconnue de cette version")
            if entry["kind"] == "secret":
                continue
            if not env.get(variable):
                raise BackupError(
                    f"{variable} n'est pas défini : où remettre « {parts[variable].what} » ? Rien n'a été restauré."
                )
            target = Path(env[variable])
            if not target.parent.is_dir():
                raise BackupError(f"{variable} : le dossier {target.parent} n'existe pas ; rien n'a été restauré.")
            targets[variable] = target
        for entry in manifest["parts"]:
            variable, source = entry["variable"], work / entry["member"]
            if entry["kind"] == "secret":
                kept = source.read_text(encoding="utf-8")
                if env.get(variable) != kept:
                    warnings.append(
                        f"{variable} : la clé en service n'est pas celle de la sauvegarde ; les liens envoyés avant "
                        "(désinscription, confirmations) ne valent qu'avec celle de la sauvegarde, gardée dans l'archive."
                    )
                continue
            target = targets[variable]
            if entry["kind"] == "sqlite":
                put_store(source, target)
            else:
                put_file(source, target)
            say(f"  {parts[variable].what} : remis dans {target}")
    for warning in warnings:
        say(f"Attention : {warning}")
    return warnings


def put_store(snapshot_file: Path, target: Path) -> None:
    """Write a snapshot over a store through SQLite's backup API: in one transaction, beside its open connections."""
    private_file(target)
    src = sqlite3.connect(snapshot_file)
    dst = sqlite3.connect(target, timeout=30)
    try:
        dst.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        src.close()
        dst.close()
    check_store(target)


def put_file(source: Path, target: Path) -> None:
    """Replace target by source in one rename, keeping the mode and group target had (else readable by its owner only)."""
    mode, gid = 0o600, -1
    if target.exists():
        st = target.stat()
        mode, gid = st.st_mode & 0o777, st.st_gid
    partial = target.with_name(f".{target.name}.restauration")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())
    if gid != -1:
        try:
            os.chown(partial, -1, gid)
        except PermissionError:
            pass
    os.chmod(partial, mode)
    os.replace(partial, target)
