"""argparse in French: usage, help and argument errors of build.py speak the editors' and operators' language.

argparse looks its messages up through gettext at call time and Python ships no French
catalogue for it: this one translates the messages a user of build.py can meet.
"""

from __future__ import annotations

import argparse

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
