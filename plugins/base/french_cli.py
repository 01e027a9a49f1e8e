"""argparse in French: usage, help and argument errors of build.py speak the editors' and operators' language.

argparse looks its messages up through gettext at call time and Python ships no French
catalogue for it: this one translates the messages a user of build.py can meet.
"""

from __future__ import annotations

import argparse
import errno
import os
import shlex
import socket
import sys
from pathlib import Path

MESSAGES = {
    "usage: ": "usage : ",
    "positional arguments": "arguments",
    "options": "options",
    "show this help message and exit": "affiche cette aide et s'arrête",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : %(value)r (choix possibles : %(choices)s)",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "expected one argument": "une valeur est attendue",
    "expected at most one argument": "une valeur au plus est attendue",
    "expected at least one argument": "une valeur au moins est attendue",
    "invalid %(type)s value: %(value)r": "valeur invalide : %(value)r",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "not allowed with argument %s": "impossible avec l'argument %s",
    "one of the arguments %s is required": "l'un des arguments %s est obligatoire",
    "unexpected option string: %s": "option inattendue : %s",
    "ignored explicit argument %r": "valeur ignorée : %r",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
}


def french(message: str) -> str:
    return MESSAGES.get(message, message)


def french_plural(singular: str, plural: str, n: int) -> str:
    if singular == "expected %s argument":
        return "%s valeur attendue" if n == 1 else "%s valeurs attendues"
    return singular if n == 1 else plural


def speak_french() -> None:
    """Make argparse's own messages French for this process (build.py is the only caller)."""
    argparse._ = french  # type: ignore[attr-defined]
    argparse.ngettext = french_plural  # type: ignore[attr-defined]


def typed_command(*words: str) -> str:
    """Return how a person runs build.py with these words from the current folder, with the interpreter running now.

    « python build.py check » fails outside the project's environment (no mkdocs there): the
    README's « .venv/bin/python build.py check » is what works, and what this gives from the project.
    """
    here = os.getcwd()
    script = Path(__file__).resolve().parents[2] / "build.py"

    def shown(path: Path) -> str:
        relative = os.path.relpath(path, here)
        return str(path) if relative.startswith("..") else relative

    interpreter = Path(sys.executable)
    if not interpreter.is_absolute():
        interpreter = Path(here, interpreter)
    line = f"{shown(interpreter)} {shown(script)}"
    return " ".join([line, *(shlex.quote(w) if w != "…" else w for w in words)])


def port_taken(host: str, port: int, option: str = "--port") -> str | None:
    """Return a French line if host:port cannot be listened on (taken, or not an address of this machine), else None.

    Said before anything starts: a server that fails later prints an English traceback, or
    half-starts (the preview's second site).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"Adresse d'écoute « {host} » inconnue : indiquez une adresse de cette machine avec --host (ex. 127.0.0.1)."
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: a closing one does not count
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"Le port {port} est déjà pris sur {host} (un autre programme, ou un aperçu déjà lancé ?) :"
                    f" choisissez-en un autre avec {option}, ou arrêtez ce programme. Rien n'a été démarré."
                )
            return f"Impossible d'écouter sur {host}:{port} ({exc.strerror}). Rien n'a été démarré."
    return None


def counted(number: int, singular: str, plural: str) -> str:
    """Return « 1 page », « 0 page », « 2 pages »: French takes the singular below two."""
    return f"{number} {singular if abs(number) < 2 else plural}"
