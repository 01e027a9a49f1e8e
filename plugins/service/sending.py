"""The thread that sends the service's outbox (plugins/records/outbox.py), one message at a time, in order."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime

from plugins.mail.transport import LostDuringData, PermanentFailure, SmtpTransport, TemporaryFailure
from plugins.records.outbox import Outbox
from plugins.service.emails import Postman


class Worker:
    """The thread that sends the outbox's messages, one at a time, in order, on one SMTP connection while busy."""

    def __init__(self, outbox: Outbox, postman: Postman, clock: Callable[[], datetime]):
        self.outbox, self.postman, self.clock = outbox, postman, clock
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, name="courriels", daemon=True)
        self.connection: SmtpTransport | None = None

    def deliver(self, recipient: str, message: bytes) -> None:
        if self.connection is None:
            self.connection = self.postman.transport()
        try:
            self.postman.deliver(recipient, message, transport=self.connection)
        except (TemporaryFailure, LostDuringData):
            self.hang_up()
            raise

    def hang_up(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def start(self) -> None:
        self.outbox.recover()
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.outbox.wake.set()
        self.thread.join(timeout=30)

    def run(self) -> None:
        forgotten = 0.0
        while not self.stopping.is_set():
            self.outbox.wake.clear()
            if time.monotonic() - forgotten > 600:
                self.outbox.forget(self.clock())
                forgotten = time.monotonic()
            if self.send_due():
                continue
            self.hang_up()  # idle: the connection is not kept open for nothing
            upcoming = self.outbox.next_try()
            wait = 30.0 if upcoming is None else max(0.05, min(30.0, (upcoming - self.clock()).total_seconds()))
            self.outbox.wake.wait(wait)

    def send_due(self) -> bool:
        """Send one due message; return whether there was one."""
        try:
            due = self.outbox.due(self.clock())
        except sqlite3.Error as exc:
            self.outbox.say(f"Messages du service : base illisible ({exc}) ; nouvel essai dans 30 secondes.")
            return False
        if due is None:
            return False
        number, recipient, message = due
        try:
            self.deliver(recipient, message)
        except (TemporaryFailure, LostDuringData) as exc:  # lost during DATA: sent again later, same Message-ID
            self.outbox.retry(number, self.clock(), str(exc))
            return False  # wait before the next one: the server is likely down
        except PermanentFailure as exc:
            self.outbox.fail(number, str(exc))
            self.outbox.say(f"Messages du service : message n° {number} refusé par le serveur ({exc}).")
            return True
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any one message
            self.outbox.retry(number, self.clock(), str(exc))
            return False
        self.outbox.done(number)
        return True
