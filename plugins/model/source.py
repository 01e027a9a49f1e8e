"""Read one editor's file: bytes -> front matter with line numbers + Markdown body."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from plugins.model.problems import Problem

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class LineDict(dict):
    """A YAML mapping that remembers the file line of each key."""

    lines: dict[str, int]


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loader that keeps dates as text (we check them) and records key lines."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode):
    data = LineDict()
    yield data
    data.update(loader.construct_mapping(node))
    data.lines = {
        str(key.value): key.start_mark.line + 1 + loader.line_offset  # type: ignore[attr-defined]
        for key, _ in node.value
    }


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

if getattr(yaml, "__with_libyaml__", False):

    class _FastLineLoader(yaml.CSafeLoader):
        """The same loader over libyaml's parser: five times faster. Its error messages and lines
        differ from PyYAML's, so a file it rejects is parsed again by _LineLoader to explain why."""

    _FastLineLoader.yaml_implicit_resolvers = _LineLoader.yaml_implicit_resolvers
    _FastLineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _LOADERS: tuple[type, ...] = (_FastLineLoader, _LineLoader)
else:  # pragma: no cover - PyYAML built without libyaml
    _LOADERS = (_LineLoader,)

_YAML_PROBLEMS = {
    "mapping values are not allowed here": "deux-points inattendu (mettez la valeur entre guillemets)",
    "could not find expected ':'": "il manque « : » entre la clé et la valeur",
    "found character '\\t' that cannot start any token": "tabulation interdite, utilisez des espaces",
    "expected <block end>, but found '-'": "liste mal indentée",
    "found undefined alias": "alias YAML inconnu",
    "did not find expected key": "indentation incohérente",
    "found unexpected end of stream": "guillemet ou crochet non fermé",
    "while scanning a quoted scalar": "guillemet non fermé",
}

_HANDLER = frontmatter.YAMLHandler()


@dataclass
class SourceDocument:
    """One Markdown file with its validated-to-be front matter."""

    path: Path
    rel: str
    meta: LineDict
    body: str
    body_line: int
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, key: str) -> int:
        """Return the line of a key, or the front matter's first line."""
        return self.meta.lines.get(key, 1)


def _decode(raw: bytes, rel: str) -> str | Problem:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return Problem(
            rel,
            line,
            "fichier",
            f"caractère illisible (octet 0x{raw[exc.start]:02x}), attendu un fichier enregistré en UTF-8",
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _yaml_problem(rel: str, exc: yaml.YAMLError, offset: int) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 + offset if mark else 1
    detail = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None) or ""
    french = _YAML_PROBLEMS.get(detail) or _YAML_PROBLEMS.get(context) or detail
    return Problem(rel, line, "en-tête", f"YAML invalide ({french}), attendu des lignes « clé: valeur »")


def parse_source(text: str, rel: str, path: Path) -> SourceDocument | Problem:
    """Split and parse front matter; return the document or the first blocking problem."""
    if not text.strip():
        return Problem(rel, 1, "fichier", "le fichier est vide, attendu un en-tête entre deux lignes ---")
    if not _HANDLER.detect(text):
        return Problem(rel, 1, "en-tête", "en-tête absent, attendu une première ligne --- suivie des champs")
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        return Problem(rel, 1, "en-tête", "en-tête non fermé, attendu une ligne --- après les champs")
    # python-frontmatter's boundary may swallow blank lines: locate fm to keep lines exact.
    offset = text[: text.find(fm, 3)].count("\n")
    for loader_class in _LOADERS:
        loader = loader_class(fm)
        loader.line_offset = offset  # type: ignore[attr-defined]
        try:
            meta = loader.get_single_data()
            break
        except yaml.YAMLError as exc:
            if loader_class is _LOADERS[-1]:
                return _yaml_problem(rel, exc, offset)
        finally:
            loader.dispose()
    if meta is None:
        meta = LineDict()
        meta.lines = {}
    if not isinstance(meta, LineDict):
        return Problem(rel, 2, "en-tête", "l'en-tête n'est pas une liste de champs, attendu des lignes « clé: valeur »")
    body_line = text.count("\n") - body.count("\n") + 1
    return SourceDocument(path=path, rel=rel, meta=meta, body=body, body_line=body_line)


def read_source(path: Path, root: Path) -> SourceDocument | Problem:
    """Read a file from disk; never raise on editors' mistakes."""
    rel = path.relative_to(root).as_posix()
    decoded = _decode(path.read_bytes(), rel)
    if isinstance(decoded, Problem):
        return decoded
    return parse_source(decoded, rel, path)
