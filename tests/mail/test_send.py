"""Sending through a real SMTP server on 127.0.0.1 (aiosmtpd): each subscriber gets exactly one message, under faults."""

from __future__ import annotations

import asyncio
import collections
import email
import os
import signal
import subprocess
import sys
import time
from email.policy import default
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from plugins.model import load_content
from tests.support import REPO, free_port

LETTER = "2026-11-adherents"
SUPPRESSED = ["desinscrite@example.org", "rebond@example.org"]


class Sink:
    """An aiosmtpd handler that stores messages and injects the faults a test asks for."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.rcpt_replies: dict[str, list[str]] = {}
        self.rcpt_seen: collections.Counter[str] = collections.Counter()
        self.drop_at_mail_after: int | None = None
        self.drop_in_data_at: int | None = None
        self.kill_at: int | None = None
        self.sender_pid: int | None = None
        self.data_count = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.drop_at_mail_after is not None and len(self.messages) >= self.drop_at_mail_after:
            server.transport.close()
            return "421 4.3.2 Service fermé"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_seen[address] += 1
        replies = self.rcpt_replies.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_count += 1
        if self.kill_at is not None and self.data_count == self.kill_at and self.sender_pid:
            os.kill(self.sender_pid, signal.SIGKILL)  # the sender dies with this message in flight
            await asyncio.sleep(0.2)
            return "451 4.3.0 Expéditeur disparu"
        if self.drop_in_data_at is not None and self.data_count == self.drop_in_data_at:
            server.transport.close()
            return "451 4.3.0 Coupure"
        for rcpt in envelope.rcpt_tos:
            self.messages.append((rcpt, envelope.content))
        return "250 OK"

    def received(self) -> collections.Counter[str]:
        return collections.Counter(r.lower() for r, _ in self.messages)


@pytest.fixture
def smtp():
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield sink, controller
    controller.stop()


@pytest.fixture
def subscribers(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    members = [f"membre{n:02d}@msp-exemple.org" for n in range(40)]
    rows = ["email;name;audience"]
    rows += [f"{m};Équipe n°{n} « Léa »;adherents" for n, m in enumerate(members)]
    rows += ["public1@example.org;Lecteur public;public", "pas-une-adresse;Erreur;adherents"]
    rows += [f"{s};Supprimée;adherents" for s in SUPPRESSED]
    listing = tmp_path / "abonnes.csv"
    listing.write_text("\n".join(rows) + "\n", encoding="utf-8")
    suppressed = tmp_path / "suppression.txt"
    suppressed.write_text("\n".join(SUPPRESSED).upper() + "\n", encoding="utf-8")
    return listing, suppressed, members


def send_command(smtp, subscribers, ledger: Path, *extra: str) -> list[str]:
    _, controller = smtp
    listing, suppressed, _ = subscribers
    return [
        sys.executable,
        str(REPO / "build.py"),
        "send",
        LETTER,
        "--subscribers",
        str(listing),
        "--suppressed",
        str(suppressed),
        "--ledger",
        str(ledger),
        "--rate",
        "0",
        *extra,
    ]


def environment(smtp) -> dict[str, str]:
    _, controller = smtp
    return {
        **os.environ,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(controller.port),
        "SMTP_SECURITY": "none",
        "LETTER_SECRET": "secret-de-test",
        "LETTER_RETRY_BACKOFF": "0.05",
    }


def run(smtp, subscribers, ledger: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        send_command(smtp, subscribers, ledger, *extra),
        env=environment(smtp),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exactly_once(sink: Sink, members: list[str], but: set[str] = frozenset()) -> None:
    expected = {m: 1 for m in members if m not in but}
    assert dict(sink.received()) == expected


def test_a_normal_send_reaches_each_subscriber_once(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    result = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert result.returncode == 0, result.stdout + result.stderr
    exactly_once(sink, subscribers[2])
    assert "abonnes.csv:43: email: « pas-une-adresse » n'est pas une adresse valide" in result.stdout
    assert "2 adresses exclues" in result.stdout
    again = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert again.returncode == 0 and "Envoyés maintenant : 0." in again.stdout
    exactly_once(sink, subscribers[2])


def test_a_dropped_connection_then_a_rerun(smtp, subscribers, tmp_path: Path) -> None:
    sink, controller = smtp
    sink.drop_at_mail_after = 15
    first = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert first.returncode == 1
    assert "Restent à envoyer : 25." in first.stdout
    assert len(sink.messages) == 15
    sink.drop_at_mail_after = None
    second = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert second.returncode == 0, second.stdout
    exactly_once(sink, subscribers[2])


def test_451_is_retried_with_backoff(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    members = subscribers[2]
    for m in members[:5]:
        sink.rcpt_replies[m] = ["451 4.7.1 Réessayez plus tard", "451 4.7.1 Réessayez plus tard"]
    result = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert result.returncode == 0, result.stdout
    exactly_once(sink, members)
    assert all(sink.rcpt_seen[m] == 3 for m in members[:5])


def test_550_is_reported_and_not_retried(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    members = subscribers[2]
    refused = members[7]
    sink.rcpt_replies[refused] = ["550 5.1.1 Boîte inconnue"] * 5
    result = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert result.returncode == 0, result.stdout
    assert f"Refus définitif pour {refused} : RCPT 550" in result.stdout
    exactly_once(sink, members, but={refused})
    assert sink.rcpt_seen[refused] == 1
    run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert sink.rcpt_seen[refused] == 1


def test_a_killed_sender_then_a_rerun(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    sink.kill_at = 12
    process = subprocess.Popen(
        send_command(smtp, subscribers, tmp_path / "envois.sqlite"),
        env=environment(smtp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sink.sender_pid = process.pid
    process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert len(sink.messages) == 11
    sink.kill_at = None
    rerun = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert rerun.returncode == 0, rerun.stdout
    assert "Reprise : 1 message(s)" in rerun.stdout
    exactly_once(sink, subscribers[2])


def test_a_connection_lost_during_data_is_unknown_until_asked(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    members = subscribers[2]
    sink.drop_in_data_at = 5
    first = run(smtp, subscribers, tmp_path / "envois.sqlite")
    assert first.returncode == 1
    assert "État inconnu pour membre04@msp-exemple.org" in first.stdout
    exactly_once(sink, members, but={"membre04@msp-exemple.org"})
    second = run(smtp, subscribers, tmp_path / "envois.sqlite")
    exactly_once(sink, members, but={"membre04@msp-exemple.org"})
    assert second.returncode == 1
    third = run(smtp, subscribers, tmp_path / "envois.sqlite", "--retry-unknown")
    assert third.returncode == 0, third.stdout
    exactly_once(sink, members)


def test_each_message_parses_with_both_parts_and_clean_headers(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    assert run(smtp, subscribers, tmp_path / "envois.sqlite").returncode == 0
    letter = next(lt for lt in load_content(REPO).letters if lt.slug == LETTER)
    ids = set()
    for rcpt, raw in sink.messages:
        msg = email.message_from_bytes(raw, policy=default)
        assert msg["Subject"] == letter.subject
        assert msg["From"].addresses[0].display_name == "Fédération des MSP des Pays de la Loire"
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert msg["To"].addresses[0].display_name.startswith("Équipe n°")
        raw_headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
        unsubscribe = next(h for h in raw_headers.split("\r\n") if h.startswith("List-Unsubscribe:"))
        assert "=?" not in unsubscribe and "<mailto:lettre@msp-pdl.example.org?subject=" in unsubscribe
        assert "<https://msp-pdl.example.org/lettres/desinscription/?jeton=" in unsubscribe
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert letter.subject in text and "Dr Hélène Marchand" in text
        assert letter.preheader not in text  # the preheader is the inbox preview, hidden in the HTML only
        assert "<table" not in text and "|" not in text
        assert rcpt.replace("@", "%40") in text and rcpt.replace("@", "%40") in html
        assert "https://adherents.msp-pdl.example.org/agenda/assemblee-generale-2027/" in html
        ids.add(msg["Message-ID"])
    assert len(ids) == len(sink.messages) == 40


def test_dry_run_and_test_send(smtp, subscribers, tmp_path: Path) -> None:
    sink, _ = smtp
    dry = run(smtp, subscribers, tmp_path / "envois.sqlite", "--dry-run")
    assert dry.returncode == 0 and "40 messages partiraient" in dry.stdout
    assert sink.messages == []
    test = run(smtp, subscribers, tmp_path / "envois.sqlite", "--test-to", "relecture@example.org")
    assert test.returncode == 0
    assert [r for r, _ in sink.messages] == ["relecture@example.org"]
    assert email.message_from_bytes(sink.messages[0][1], policy=default)["Subject"].startswith("[TEST] ")
    assert run(smtp, subscribers, tmp_path / "envois.sqlite").returncode == 0
    assert len(sink.messages) == 41


def test_without_smtp_host_messages_go_to_the_outbox(subscribers, tmp_path: Path) -> None:
    listing, suppressed, members = subscribers
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_")}
    command = [
        sys.executable,
        str(REPO / "build.py"),
        "send",
        LETTER,
        "--subscribers",
        str(listing),
        "--suppressed",
        str(suppressed),
        "--ledger",
        str(tmp_path / "envois.sqlite"),
        "--outbox",
        str(tmp_path / "outbox"),
        "--rate",
        "0",
    ]
    assert subprocess.run(command, env=env, capture_output=True, text=True, check=False).returncode == 0
    files = sorted((tmp_path / "outbox" / LETTER).glob("*.eml"))
    assert len(files) == len(members)
    recipients = {email.message_from_bytes(f.read_bytes(), policy=default)["To"].addresses[0].addr_spec for f in files}
    assert recipients == set(members)


def test_due_sends_letters_whose_time_has_come(smtp, subscribers, tmp_path: Path) -> None:
    sink, controller = smtp
    listing, suppressed, members = subscribers
    base = [
        sys.executable,
        str(REPO / "build.py"),
        "send",
        "--due",
        "--subscribers",
        str(listing),
        "--suppressed",
        str(suppressed),
        "--ledger",
        str(tmp_path / "envois.sqlite"),
        "--rate",
        "0",
    ]
    early = subprocess.run(
        [*base, "--now", "2026-08-15T08:00+02:00"], env=environment(smtp), capture_output=True, text=True, check=False
    )
    assert early.returncode == 0
    sent = {email.message_from_bytes(raw, policy=default)["Subject"] for _, raw in sink.messages}
    assert sent == {"L'exercice coordonné en Pays de la Loire — juillet 2026"}
    assert sink.received()["public1@example.org"] == 1
    later = subprocess.run(
        [*base, "--now", "2026-12-01T09:05+01:00"], env=environment(smtp), capture_output=True, text=True, check=False
    )
    assert later.returncode == 0, later.stdout
    subjects = collections.Counter(email.message_from_bytes(raw, policy=default)["Subject"] for _, raw in sink.messages)
    assert subjects["La lettre des adhérents — décembre 2026"] == len(members)
    # Every letter whose send_at has passed, once: 3 public letters to the one public reader, 3 members' letters.
    expected = {lt.subject: (1 if lt.audience.value == "public" else len(members)) for lt in load_content(REPO).letters}
    assert dict(subjects) == expected
    again = subprocess.run(
        [*base, "--now", "2026-12-01T10:00+01:00"], env=environment(smtp), capture_output=True, text=True, check=False
    )
    assert "Aucune lettre à envoyer" in again.stdout


def test_a_second_send_while_one_runs_sends_nothing(smtp, subscribers, tmp_path: Path) -> None:
    """The scheduled job and a manual command on the same ledger: the second one stops, nobody gets two."""
    sink, _ = smtp
    members = subscribers[2]
    ledger = tmp_path / "envois.sqlite"
    command = send_command(smtp, subscribers, ledger)
    command[command.index("--rate") + 1] = "20"  # 40 messages: about two seconds
    first = subprocess.Popen(command, env=environment(smtp), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(sink.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert 3 <= len(sink.messages) < len(members), "the first send should be under way"
        second = run(smtp, subscribers, ledger)
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert second.returncode == 1
    assert "Un autre envoi est en cours" in second.stdout and str(ledger) in second.stdout
    assert first.returncode == 0, out + err
    exactly_once(sink, members)
    # Once the first has finished, the ledger is free again.
    again = run(smtp, subscribers, ledger)
    assert again.returncode == 0 and "Envoyés maintenant : 0." in again.stdout


@pytest.mark.parametrize(
    "case",
    [
        "suppression absente",
        "abonnés absents",
        "colonne audience absente",
        "SMTP_SECURITY inconnu",
        "SMTP_PORT invalide",
        "sans LETTER_SECRET",
        "registre absent",
    ],
)
def test_a_wrong_operator_input_stops_before_anything_is_sent(smtp, subscribers, tmp_path: Path, case: str) -> None:
    sink, _ = smtp
    listing, suppressed, _ = subscribers
    env = environment(smtp)
    args = ["--subscribers", str(listing), "--suppressed", str(suppressed), "--ledger", str(tmp_path / "envois.sqlite")]
    expected = {
        "suppression absente": "liste de suppression (--suppressed / LETTER_SUPPRESSED) introuvable",
        "abonnés absents": "CSV des abonnés (--subscribers / LETTER_SUBSCRIBERS) introuvable",
        "colonne audience absente": "colonnes absentes : audience",
        "SMTP_SECURITY inconnu": "SMTP_SECURITY « ssl » inconnu",
        "SMTP_PORT invalide": "SMTP_PORT « vingt-cinq » n'est pas un numéro de port",
        "sans LETTER_SECRET": "LETTER_SECRET n'est pas défini",
        "registre absent": "Indiquez le registre des envois",
    }[case]
    if case == "suppression absente":
        args[3] = str(tmp_path / "supression.txt")  # a typo
    elif case == "abonnés absents":
        args[1] = str(tmp_path / "abones.csv")
    elif case == "colonne audience absente":
        listing.write_text("email;name\nmembre00@msp-exemple.org;A\n", encoding="utf-8")
    elif case == "SMTP_SECURITY inconnu":
        env["SMTP_SECURITY"] = "ssl"
    elif case == "SMTP_PORT invalide":
        env["SMTP_PORT"] = "vingt-cinq"
    elif case == "sans LETTER_SECRET":
        del env["LETTER_SECRET"]
    else:
        args = args[:4]
    command = [sys.executable, str(REPO / "build.py"), "send", LETTER, *args, "--rate", "0"]
    for extra in ([], ["--dry-run"]) if case != "sans LETTER_SECRET" else ([],):
        result = subprocess.run(command + extra, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 1, result.stdout + result.stderr
        assert expected in result.stdout and "Traceback" not in result.stderr, result.stdout + result.stderr
    assert sink.messages == [] and sink.rcpt_seen == {}
