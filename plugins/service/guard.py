"""Wrong passwords counted per client network and per account, in memory: a guesser is refused before any check.

nginx asks the service about every request of the members' host (`auth_request`). A wrong
password counts against the client's network (an IPv4 address, an IPv6 /64) and against the
login it claimed, known or not (so that a refusal never tells which logins exist). Over either
limit, further attempts are refused without checking the password, until the oldest failures
leave the window: a guesser learns nothing more, and the real member waits at most the window.
A lock on an account does not apply to a network that account already logged in from (within
known_days): the team already reading keeps going, the guesser elsewhere is refused. A right
password is remembered for memo_seconds per network (no bcrypt on each asset), never longer, so
that a changed password or an ended account stops working within that delay.

Nothing here is written to disk: a restart forgets the counts (and the memo).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections import OrderedDict, deque
from dataclasses import dataclass

MAX_KEYS = 50_000  # the oldest counters are dropped beyond this (memory stays bounded under a spray of logins)


@dataclass(frozen=True)
class Limits:
    """How many wrong passwords a client network and an account may give within their windows (seconds)."""

    per_client: int = 20
    client_window: float = 600.0
    per_account: int = 10
    account_window: float = 900.0
    memo_seconds: float = 60.0  # a right password checked from a network is taken again without bcrypt this long
    known_days: float = 30.0  # a network an account logged in from is spared that account's lock this long


def network_of(address: str) -> str:
    """Return the client's network: the IPv4 address itself, or the /64 of an IPv6 address (one subscriber's line)."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return "inconnue"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


class _Window:
    """Failure times per key within a sliding window, for a bounded number of keys."""

    def __init__(self, limit: int, seconds: float):
        self.limit, self.seconds = limit, seconds
        self.times: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self.times.get(key)
        if times is None:
            return None
        while times and now - times[0] >= self.seconds:
            times.popleft()
        if not times:
            del self.times[key]
            return None
        return times

    def over(self, key: str, now: float) -> bool:
        times = self._recent(key, now)
        return times is not None and len(times) >= self.limit

    def remove_last(self, key: str) -> None:
        times = self.times.get(key)
        if times:
            times.pop()
            if not times:
                del self.times[key]

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = self.times[key] = deque()
        times.append(now)
        self.times.move_to_end(key)
        while len(self.times) > MAX_KEYS:
            self.times.popitem(last=False)


class Guard:
    """The members' host's wrong-password limits and the memo of right passwords, for one service process."""

    def __init__(self, key: bytes, limits: Limits | None = None):
        self.key = key
        self.limits = limits or Limits()
        self.clients = _Window(self.limits.per_client, self.limits.client_window)
        self.accounts = _Window(self.limits.per_account, self.limits.account_window)
        self.memo: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.known: OrderedDict[str, float] = OrderedDict()  # keyed digest of (login, network) → last login there

    def _memo_key(self, network: str, authorization: str) -> str:
        # Keyed digest: the memo never holds a password, nor anything that could be checked against one offline.
        return hmac.new(self.key, f"{network}\x00{authorization}".encode(), hashlib.sha256).hexdigest()

    def remembered(self, network: str, authorization: str, now: float) -> str | None:
        """Return the login of a right password checked from this network within memo_seconds, else None."""
        key = self._memo_key(network, authorization)
        found = self.memo.get(key)
        if found is None:
            return None
        login, at = found
        if now - at >= self.limits.memo_seconds:
            del self.memo[key]
            return None
        return login

    def _known_key(self, network: str, login: str) -> str:
        return hmac.new(self.key, f"{login.lower()}\x00{network}".encode(), hashlib.sha256).hexdigest()

    def refused(self, network: str, login: str, now: float) -> bool:
        """Return whether an attempt must be refused unchecked: its network or its account gave too many wrong ones.

        An account's lock spares the networks it logged in from lately.
        """
        if self.clients.over(network, now):
            return True
        if not self.accounts.over(login.lower(), now):
            return False
        seen = self.known.get(self._known_key(network, login))
        return seen is None or now - seen >= self.limits.known_days * 86400

    def failed(self, network: str, login: str, now: float) -> None:
        self.clients.add(network, now)
        self.accounts.add(login.lower(), now)

    def forgive(self, network: str, login: str) -> None:
        """Take back the failure counted for an attempt that proved right."""
        self.clients.remove_last(network)
        self.accounts.remove_last(login.lower())

    def succeeded(self, network: str, authorization: str, login: str, now: float) -> None:
        key = self._memo_key(network, authorization)
        self.memo[key] = (login, now)
        self.memo.move_to_end(key)
        known = self._known_key(network, login)
        self.known[known] = now
        self.known.move_to_end(known)
        for table in (self.memo, self.known):
            while len(table) > MAX_KEYS:
                table.popitem(last=False)
