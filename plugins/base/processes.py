"""The two processes of a build (plugins/build/sites.py): a forked worker, a thread, and the pipe between them.

The public site's process sends its conversions of the pages both sites show (SentPages) to the
members' site's process (ReceivedPages), which takes each one when it reaches the page.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import logging
import multiprocessing
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

# A page's conversion as the MkDocs adapter makes it (RenderedPage): carried as it is, never looked into here.
Page = Any

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux
PIPE_SIZE = 1 << 20  # Linux's largest for an unprivileged process (/proc/sys/fs/pipe-max-size)
BATCH = 64  # conversions sent at once


T = TypeVar("T")


class Worker(Generic[T]):
    """A function run at once in a forked process, which starts with this one's memory (the loaded model).

    Its result, or its exception, comes back pickled; the process has ended when result() returns.
    close: this process's ends of pipes to the worker, closed in the worker first. A fork copies every
    open pipe: a worker holding the reading end of the pipe it writes to would never learn that this
    process has stopped reading, and would wait forever once the pipe is full.
    """

    def __init__(self, function: Callable[..., T], *args: Any, close: tuple[Connection, ...] = ()) -> None:
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_work, args=(send, function, args, close), daemon=True)
        self._process.start()
        send.close()
        self._outcome: tuple[bool, Any, str] | None = None

    def result(self) -> T:
        if self._outcome is None:
            try:
                self._outcome = self._receive.recv()
            except EOFError:
                self._outcome = (
                    False,
                    RuntimeError("le second processus de la construction (site public) s'est arrêté avant la fin"),
                    "",
                )
            self._process.join()
        ok, remote = self._outcome[0], self._outcome[2]
        value: Any = self._outcome[1]
        if not ok:
            if remote:
                raise value from RemoteTraceback(remote)
            raise value
        return value

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join()


def fresh_std_streams() -> None:
    """In a forked process, write to stdout and stderr through new objects, and have logging's handlers do so.

    A fork copies the other threads' locks, not the threads: the preview forks while its servers
    may be writing their request lines, and a lock held then would never be released in the new
    process, which would hang at its first warning. The old objects are left unflushed (their
    content is the parent's to write).
    """
    for name, number in (("stdout", 1), ("stderr", 2)):
        old = getattr(sys, name)
        if old is None:
            continue
        try:
            descriptor = old.fileno()
        except (AttributeError, OSError, ValueError):
            descriptor = number
        new = io.TextIOWrapper(
            io.FileIO(os.dup(descriptor), "w"),
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors=getattr(old, "errors", None) or "strict",
            line_buffering=True,
        )
        setattr(sys, name, new)
        loggers = [
            logging.getLogger(),
            *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is old:
                    handler.stream = new  # not setStream(): it would flush the old stream, under its lock


class RemoteTraceback(Exception):
    """Where an exception of a worker process was raised, shown under it."""

    def __str__(self) -> str:
        return f"\n{self.args[0]}"


def _work(send: Any, function: Callable[..., Any], args: tuple, close: tuple[Connection, ...] = ()) -> None:
    for inherited in close:
        inherited.close()
    fresh_std_streams()
    try:
        outcome: tuple[bool, Any, str] = (True, function(*args), "")
    except BaseException as exc:  # noqa: BLE001 - handed over to the parent process
        outcome = (False, exc, traceback.format_exc())
    try:
        send.send(outcome)
    except Exception:  # noqa: BLE001 - an exception that does not pickle: its text
        send.send((False, RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]}"), outcome[2]))
    finally:
        send.close()


class Background(threading.Thread, Generic[T]):
    """A function run in a thread, whose result or exception result() hands over."""

    def __init__(self, function: Callable[[], T]) -> None:
        super().__init__(daemon=True)
        self._function = function
        self._outcome: tuple[bool, Any] | None = None

    def run(self) -> None:
        try:
            self._outcome = (True, self._function())
        except BaseException as exc:  # noqa: BLE001 - handed over to result()
            self._outcome = (False, exc)

    def result(self) -> T:
        self.join()
        assert self._outcome is not None
        ok, value = self._outcome
        if not ok:
            raise value
        return value


class SentPages(dict):
    """The public site's conversions of the pages both sites show, sent to the members' site's process as they are made.

    They go in batches, sent by a thread: the build never waits for the other process to read.
    """

    def __init__(self, send: Connection) -> None:
        super().__init__()
        self._send = send
        with contextlib.suppress(OSError):  # a larger pipe: fewer wake-ups of the reading process
            fcntl.fcntl(send.fileno(), F_SETPIPE_SZ, PIPE_SIZE)
        self._batch: list[tuple[tuple[str, str], Page]] = []
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def __setitem__(self, key: tuple[str, str], page: Page) -> None:
        self._batch.append((key, page))
        if len(self._batch) == BATCH:
            self._queue.put(self._batch)
            self._batch = []

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            try:
                self._send.send(batch)
            except OSError:
                return  # the members' site is done: it converted the rest itself

    def close(self) -> None:
        """Send what is left, then close the pipe (the other process reads its end)."""
        if self._batch:
            self._queue.put(self._batch)
        self._queue.put(None)
        self._thread.join()
        self._send.close()


class ReceivedPages(dict):
    """The conversions the public site's process sends, read whenever the members' site looks one up.

    A page the members' site reaches before its conversion arrives is converted here; its late
    conversion is dropped on arrival.
    """

    def __init__(self, receive: Connection) -> None:
        super().__init__()
        self._receive: Connection | None = receive
        self._missed: set[tuple[str, str]] = set()

    def _read(self) -> None:
        """Take every batch the other process has sent so far."""
        while self._receive is not None and self._receive.poll():
            try:
                batch = self._receive.recv()
            except (EOFError, OSError):  # the other process has sent everything (or ended)
                self._receive.close()
                self._receive = None
                return
            for key, page in batch:
                if key not in self._missed:
                    super().__setitem__(key, page)

    def pop(self, key: tuple[str, str], default: object = None) -> object:  # type: ignore[override]
        if key not in self:
            self._read()
        page = super().pop(key, None)
        if page is None:
            self._missed.add(key)
            return default
        return page

    def __setitem__(self, key: tuple[str, str], page: Page) -> None:
        pass  # no other build needs this site's conversions

    def close(self) -> None:
        if self._receive is not None:
            self._receive.close()
            self._receive = None
        self.clear()
