"""Read one editor's file: bytes -> front matter with line numbers + Markdown body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml

from plugins.model.problems import Problem, cut

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
        """The same loader over libyaml's parser, written in C: much faster than PyYAML's own. Its error messages
        and lines differ from PyYAML's, so a file it rejects is parsed again by _LineLoader to explain why
        (measured: bench/RESULTS.md, « Why the code is as it is »)."""

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
    "did not find expected key": "indentation incohérente",
}

_UNCLOSED = "guillemet ouvrant sans guillemet fermant, attendu un guillemet fermant à la fin de la valeur"
_CLOSED_EARLY = "guillemet fermant au milieu de la valeur, attendu des guillemets autour de la valeur entière"
_APOSTROPHE = " (entre guillemets simples, une apostrophe s'écrit deux fois : 'L''équipe')"
_BACKSLASH = "barre oblique inverse « \\ » entre guillemets doubles, attendu la valeur entre guillemets simples '…'"
_STARTS_WITH_MARK = "« * » ou « & » en début de valeur (alias ou ancre YAML), attendu la valeur entre guillemets"
_ANCHOR = "{what}, attendu chaque valeur écrite en entier (mettez entre guillemets une valeur qui commence par {sign})"
_UNCLOSED_FLOW = {
    "while parsing a flow sequence": "crochet « [ » sans crochet fermant « ] », attendu la liste entière sur la ligne (ex. [a, b])",
    "while parsing a flow mapping": "accolade « { » sans accolade fermante « } », attendu les champs sur la ligne (ex. {email: a@b.fr})",
}
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)\s*:(?:\s|$)")
_ANY_KEY = re.compile(r"^\s*(?:-\s+)?[\w-]+\s*:(?:\s|$)")
_QUOTES = ("'", '"')

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
    key: str = ""  # the digest of its path and bytes, when read through a SourceCache

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


def _field_at(fm: str, line: int) -> str:
    """Return the top-level key a front-matter line (0-based) belongs to, or the whole header."""
    for text in reversed(fm.split("\n")[: line + 1]):
        if key := _TOP_KEY.match(text):
            return key.group(1)
    return "en-tête"


def _anchor_problem(rel: str, fm: str, offset: int) -> Problem | None:
    """Refuse the first anchor or alias, reading parser events only: nothing is built, so nothing expands."""
    if "&" not in fm and "*" not in fm:
        return None
    try:
        for event in yaml.parse(fm, Loader=_LOADERS[0]):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                alias = isinstance(event, yaml.AliasEvent)
                name = cut(str(getattr(event, "anchor", "")))
                what = f"alias « *{name} » interdit" if alias else f"ancre « &{name} » interdite"
                line = event.start_mark.line if event.start_mark else 0
                return Problem(rel, line + 1 + offset, _field_at(fm, line), _ANCHOR.format(what=what, sign="*" if alias else "&"))
    except yaml.YAMLError:
        return None  # invalid YAML: loading it explains why, and stops before building anything
    return None


def _scalars_before(fm: str, mark: yaml.Mark) -> list[yaml.ScalarToken]:
    """Return the scalars PyYAML scans before an error mark."""
    scalars = []
    try:
        for token in yaml.scan(fm, Loader=_LineLoader):
            if token.start_mark.index >= mark.index:
                break
            if isinstance(token, yaml.ScalarToken) and token.end_mark.index <= mark.index:
                scalars.append(token)
    except yaml.YAMLError:
        pass  # the scan stops where the load did
    return scalars


def _spans_keys(fm: str, start: yaml.Mark, end: yaml.Mark) -> bool:
    """Return True when lines after start, up to end, look like keys: a quoted value swallowed them."""
    lines = fm.split("\n")[start.line + 1 : end.line + 1]
    return any(_ANY_KEY.match(line) for line in lines)


def _quote_error(exc: yaml.MarkedYAMLError, fm: str) -> tuple[yaml.Mark, str] | None:
    """Return where a quoting mistake starts and what it is, when the error comes from one."""
    context, start, mark = exc.context or "", exc.context_mark, exc.problem_mark
    if mark is None:
        return None
    if start is not None:
        if context == "while scanning a double-quoted scalar":  # a bad escape, unless the value ran on
            return (start, _UNCLOSED) if _spans_keys(fm, start, mark) else (mark, _BACKSLASH)
        if context == "while scanning a quoted scalar":
            return start, _UNCLOSED
        if context in ("while scanning an alias", "while scanning an anchor"):
            return start, _STARTS_WITH_MARK
    scalars = _scalars_before(fm, mark)
    swallowing = next((t for t in scalars if t.style in _QUOTES and _spans_keys(fm, t.start_mark, t.end_mark)), None)
    if swallowing:
        return swallowing.start_mark, _UNCLOSED
    last = scalars[-1] if scalars else None
    if last and last.style in _QUOTES and last.start_mark.line == last.end_mark.line == mark.line:
        return last.start_mark, _CLOSED_EARLY + (_APOSTROPHE if last.style == "'" else "")
    if start is not None and context in _UNCLOSED_FLOW and (_spans_keys(fm, start, mark) or not fm[mark.index :].strip()):
        return start, _UNCLOSED_FLOW[context]
    return None


def _yaml_problem(rel: str, exc: yaml.YAMLError, fm: str, offset: int) -> Problem:
    """Turn PyYAML's error into a French problem at the line where the broken value starts."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = fm.count("\n", 0, exc.position)
        message = f"caractère invisible U+{exc.character:04X} interdit, attendu du texte simple (effacez et retapez la ligne)"
        return Problem(rel, line + 1 + offset, _field_at(fm, line), message)
    if isinstance(exc, yaml.MarkedYAMLError) and (found := _quote_error(exc, fm)):
        mark, message = found
        return Problem(rel, mark.line + 1 + offset, _field_at(fm, mark.line), message)
    where = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = where.line + 1 + offset if where else 1
    detail = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None) or ""
    french = _YAML_PROBLEMS.get(detail) or _YAML_PROBLEMS.get(context) or cut(detail)
    return Problem(rel, line, "en-tête", f"YAML invalide ({french}), attendu des lignes « clé: valeur »")


def _load(fm: str, offset: int) -> object:
    """Return the front matter's data; on invalid YAML raise PyYAML's own error, the one we can explain."""
    for loader_class in _LOADERS:
        try:
            loader = loader_class(fm)
            loader.line_offset = offset  # type: ignore[attr-defined]
            try:
                return loader.get_single_data()
            finally:
                loader.dispose()
        except yaml.YAMLError:
            if loader_class is _LOADERS[-1]:
                raise
    return None  # pragma: no cover - the last loader returns or raises


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
    if anchor := _anchor_problem(rel, fm, offset):
        return anchor
    try:
        meta = _load(fm, offset)
    except yaml.YAMLError as exc:
        return _yaml_problem(rel, exc, fm, offset)
    if meta is None:
        meta = LineDict()
        meta.lines = {}
    if not isinstance(meta, LineDict):
        return Problem(rel, 2, "en-tête", "l'en-tête n'est pas une liste de champs, attendu des lignes « clé: valeur »")
    body_line = text.count("\n") - body.count("\n") + 1
    return SourceDocument(path=path, rel=rel, meta=meta, body=body, body_line=body_line)


def read_source(path: Path, root: Path, rel: str | None = None) -> SourceDocument | Problem:
    """Read a file from disk; never raise on editors' mistakes (rel: path relative to root, as text, if known)."""
    return parse_read(path.read_bytes(), path.relative_to(root).as_posix() if rel is None else rel, path)


def parse_read(raw: bytes, rel: str, path: Path) -> SourceDocument | Problem:
    """Decode and parse a file's bytes (read_source, once the file is read)."""
    decoded = _decode(raw, rel)
    if isinstance(decoded, Problem):
        return decoded
    return parse_source(decoded, rel, path)
