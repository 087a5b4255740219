"""A safe YAML reader that remembers where every key and value came from.

PyYAML's safe loader forgets positions once it builds Python objects, and it accepts duplicate
keys silently. This reader walks the parser's events itself, so it can (1) keep `file:line:col`
for every key path, (2) report duplicate keys, (3) refuse hostile input early: oversized files,
deep nesting, too many values, alias bombs (expansion counted as it happens), explicit tags.
Only plain scalars, lists and mappings come out: no tag ever constructs an object.
Read by the scene loader (engine/scene/loader.py) and the patient profiles (devices/sim/profiles.py):
it lives in `devices`, the lowest layer, so both can import it.
"""

from __future__ import annotations

import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

try:  # libyaml's parser is ~10x faster; marks are the same
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - pure-Python PyYAML
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 512 * 1024
MAX_DEPTH = 24
MAX_VALUES = 50_000  # scalars + containers, counting each alias expansion
MAX_NUMBER_CHARS = 40  # a numeric literal longer than this is refused (no scene value needs it)
MAX_ECHO_CHARS = 40  # text from a file quoted in an error is cut to this

# YAML 1.2 floats that PyYAML's YAML 1.1 resolver leaves as text: `1e-1`, `1.0e5`, `1e309`.
_FLOAT_12 = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)$")

# YAML 1.2 core integers and booleans. PyYAML resolves YAML 1.1, where `1_000` is 1000, `1:30` is
# 90 (base 60), `010` is 8 (octal), `0b11` is 3 and `yes`/`on` are true: a designer's `1:30` for
# a time or `010` for a distance would silently become another number. Here they stay text (the
# value is then refused as not a number) and `010` is ten; `0o17` and `0x1f` are numbers.
_INT_12 = re.compile(r"^[-+]?[0-9]+$")
_OCT_HEX_12 = re.compile(r"^0o[0-7]+$|^0x[0-9a-fA-F]+$")
_BOOL_12 = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOAT_12 = re.compile(r"^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$")

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + "null", _STD + "bool", _STD + "int", _STD + "float", _STD + "str"}


@dataclass(frozen=True)
class Pos:
    """A 1-based position in a file."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


class HostileInput(Exception):
    """The file is refused as a whole (too big, too deep, too many values, unparseable)."""

    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


@dataclass
class Document:
    """Plain data plus the position of each value and each mapping key, by key path."""

    data: object
    values: dict[tuple, Pos] = field(default_factory=dict)
    keys: dict[tuple, Pos] = field(default_factory=dict)
    problems: list[tuple[Pos, tuple, str]] = field(default_factory=list)  # recoverable: duplicates, tags

    def problem_paths(self) -> set[tuple]:
        """Key paths that already have a problem (validation adds nothing more there)."""
        return {path for _, path, _ in self.problems}


def echo(text: object) -> str:
    """Text from a file made safe to quote in an error: printable, escaped, at most MAX_ECHO_CHARS."""
    shown = repr(text)
    return shown if len(shown) <= MAX_ECHO_CHARS else shown[: MAX_ECHO_CHARS - 3] + "..."


def printable(text: str) -> str:
    """A file name or message with control and invisible characters escaped (never a raw byte)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _pos(file: str, mark) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


class _Frame:
    __slots__ = ("container", "path", "start", "key", "key_pos", "have_key", "size", "anchor", "skip_value")

    def __init__(self, container, path, start: Pos, anchor) -> None:
        self.container = container
        self.start = start
        self.path = path
        self.key = None
        self.key_pos = None
        self.have_key = False
        self.size = 1
        self.anchor = anchor
        self.skip_value = False


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ('a directory', 'a character device', ...)."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _FILE_KINDS:
        if test(mode):
            return name
    return "something else"


def _refuse_kind(display: str, mode: int, what: str = "scene") -> None:
    kind = file_kind(mode)
    if kind is not None:
        raise HostileInput(Pos(display, 1, 1), f"not a regular file but {kind}; a {what} is a .yaml text file")


def read_text(path: Path, display: str, what: str = "scene") -> str:
    """Read a scene file (or another `what`: "patient profile") as UTF-8; refuses what is not a
    regular file (without opening a FIFO or reading a device), oversized and binary files, before
    any parsing."""
    where = Pos(display, 1, 1)
    try:
        _refuse_kind(display, os.stat(path).st_mode, what)  # follows symlinks: the target must be a file
        flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags)
        try:
            info = os.fstat(fd)
            _refuse_kind(display, info.st_mode, what)  # swapped after the check above
            if info.st_size > MAX_FILE_BYTES:
                raise HostileInput(where, f"file is {info.st_size} bytes; {what} files are limited to {MAX_FILE_BYTES} bytes")
            chunks, total = [], 0
            while total <= MAX_FILE_BYTES:  # a file growing while read (or /proc) stops here too
                chunk = os.read(fd, min(65536, MAX_FILE_BYTES + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            raw = b"".join(chunks)
        finally:
            os.close(fd)
    except FileNotFoundError as exc:
        raise HostileInput(where, "file not found (or a link to nothing)") from exc
    except PermissionError as exc:
        raise HostileInput(where, "permission denied") from exc
    except IsADirectoryError as exc:
        raise HostileInput(where, f"not a regular file but a directory; a {what} is a .yaml text file") from exc
    except OSError as exc:
        raise HostileInput(where, f"cannot read file: {exc.strerror or type(exc).__name__}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise HostileInput(where, f"file is larger than {MAX_FILE_BYTES} bytes; refused")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise HostileInput(Pos(display, line, col), "file is not UTF-8 text") from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise HostileInput(Pos(display, line, 1), "file contains a NUL byte (not a text file)")
    return text.lstrip("\ufeff")


def parse(text: str, display: str, what: str = "scene") -> Document:
    """Parse one YAML document into plain data with positions; raises HostileInput. `what` names
    the kind of file in messages ("scene", "patient profile")."""
    if len(text) > MAX_FILE_BYTES:
        raise HostileInput(Pos(display, 1, 1), f"text is larger than {MAX_FILE_BYTES} characters")
    loader = _Loader(text)
    doc = Document(data=None)
    anchors: dict[str, tuple[object, int]] = {}
    stack: list[_Frame] = []
    values = 0
    documents = 0
    root_set = False

    def place(value, pos: Pos, size: int, anchor: str | None) -> None:
        """Attach a finished value to its parent (or make it the root)."""
        nonlocal root_set
        if anchor:
            anchors[anchor] = (value, size)
        if not stack:
            doc.data = value
            doc.values[()] = pos
            root_set = True
            return
        parent = stack[-1]
        parent.size += size
        if isinstance(parent.container, list):
            path = parent.path + (len(parent.container),)
            parent.container.append(value)
            doc.values.setdefault(path, pos)
            return
        if not parent.have_key:  # this value is a key
            if not isinstance(value, str):  # 1:, true:, ~:, a date: no scene key is one
                kind = "empty" if value is None else type(value).__name__.replace("datetime", "date")
                kind = {"int": "a number", "float": "a number", "bool": "true/false", "date": "a date",
                        "empty": "empty"}.get(kind, "not text")
                doc.problems.append((pos, parent.path, f"a mapping key must be text; this one is {kind} "
                                     f"({echo(value) if value is not None else 'nothing before the colon'})"))
                parent.key, parent.key_pos, parent.have_key, parent.skip_value = ("<non-text key>", pos), pos, True, True
                return
            if isinstance(value, str) and value == "<<":
                doc.problems.append((pos, parent.path, "merge keys (<<) are not supported; use `extends:` or repeat the values"))
            parent.key = value
            parent.key_pos = pos
            parent.have_key = True
            parent.skip_value = value in parent.container or value == "<<"
            if value in parent.container and value != "<<":
                first = doc.keys.get(parent.path + (value,))
                where = f" (first at line {first.line})" if first else ""
                doc.problems.append((pos, parent.path + (value,), f"duplicate key {echo(value)}{where}"))
            return
        key = parent.key
        parent.have_key = False
        if parent.skip_value:
            return
        path = parent.path + (key,)
        parent.container[key] = value
        doc.keys[path] = parent.key_pos
        doc.values[path] = pos

    def child_path() -> tuple:
        if not stack:
            return ()
        parent = stack[-1]
        if isinstance(parent.container, list):
            return parent.path + (len(parent.container),)
        if parent.have_key:
            return parent.path + (parent.key,)
        return parent.path + ("<key>",)

    def check_tag(event, kind: str, pos: Pos) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            return
        allowed = _SCALAR_TAGS if kind == "scalar" else {_STD + kind}
        if tag not in allowed:
            doc.problems.append((pos, child_path(), f"YAML tag {echo(tag)} is not allowed in {what} files"))

    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise HostileInput(_pos(display, event.start_mark), "only one YAML document per file (remove the second '---')")
                continue
            if isinstance(event, (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)):
                continue
            pos = _pos(display, event.start_mark)
            if isinstance(event, yaml.AliasEvent):
                if event.anchor not in anchors:
                    raise HostileInput(pos, f"unknown alias *{echo(event.anchor)} (anchors must come before their use)")
                value, size = anchors[event.anchor]
                values += size
                if values > MAX_VALUES:
                    raise HostileInput(pos, f"aliases expand to more than {MAX_VALUES} values (alias bomb?); refused")
                place(value, pos, size, None)
                continue
            values += 1
            if values > MAX_VALUES:
                raise HostileInput(pos, f"more than {MAX_VALUES} values in one file; refused")
            if isinstance(event, yaml.ScalarEvent):
                check_tag(event, "scalar", pos)
                value, problem = _scalar(loader, event, what)
                if value is None and not event.value and not event.style:
                    problem = problem or _comment_colour(text, event.start_mark.line)
                if problem:
                    doc.problems.append((pos, child_path(), problem))
                place(value, pos, 1, event.anchor)
            elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                is_map = isinstance(event, yaml.MappingStartEvent)
                check_tag(event, "map" if is_map else "seq", pos)
                if len(stack) >= MAX_DEPTH:
                    raise HostileInput(pos, f"nesting deeper than {MAX_DEPTH} levels; refused")
                if stack and isinstance(stack[-1].container, dict) and not stack[-1].have_key:
                    raise HostileInput(pos, "a mapping key must be plain text, not a list or mapping")
                stack.append(_Frame({} if is_map else [], child_path(), pos, event.anchor))
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                place(frame.container, frame.start, frame.size, frame.anchor)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(display, mark) if mark else Pos(display, 1, 1)
        message = " ".join(filter(None, [exc.context, exc.problem])) or "not valid YAML"
        if mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t":
            message += " (a tab: YAML indents with spaces only)"
        raise HostileInput(pos, f"YAML syntax: {printable(message)[:200]}") from exc
    except yaml.reader.ReaderError as exc:
        index = max(0, min(int(exc.position), len(text)))
        line = text.count("\n", 0, index) + 1
        col = index - (text.rfind("\n", 0, index) + 1) + 1
        raise HostileInput(Pos(display, line, col), f"character U+{int(exc.character):04X} is not allowed in a {what} file "
                           "(control character)") from exc
    except yaml.YAMLError as exc:
        raise HostileInput(Pos(display, 1, 1), f"YAML syntax: {printable(str(exc))[:200]}") from exc
    except RecursionError as exc:  # pragma: no cover - depth is checked first
        raise HostileInput(Pos(display, 1, 1), "nesting too deep; refused") from exc
    if not root_set:
        doc.data = None
        doc.values[()] = Pos(display, 1, 1)
    return doc


_HEX_COMMENT = re.compile(r":[ \t]+#[0-9a-fA-F]{6}\b")


def _comment_colour(text: str, line_index: int) -> str | None:
    """`colour: #ff0000` unquoted is a key with no value and a comment: say so, not "missing"."""
    start = 0
    for _ in range(line_index):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    end = text.find("\n", start)
    line = text[start: end if end >= 0 else len(text)]
    if _HEX_COMMENT.search(line[:400]):
        return "an unquoted #rrggbb starts a YAML comment, so this key has no value; quote it: '#ff8800'"
    return None


def _scalar(loader, event, what: str = "scene") -> tuple[object, str | None]:
    """Build a plain scalar (null, bool, int, float or str) the way the safe loader would, plus a
    problem for numbers no scene value can hold (the value is then inf, so validation says nothing
    more there). Plain `1e-1` is a number (YAML 1.2), not the text YAML 1.1 makes of it."""
    tag = event.tag
    plain = tag in (None, "!") and event.implicit[0] and not event.style
    if tag in (None, "!"):
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    if plain and tag == _STD + "str" and _FLOAT_12.match(event.value):
        tag = _STD + "float"
    if plain and tag == _STD + "str" and _OCT_HEX_12.match(event.value):
        tag = _STD + "int"
    if plain and tag == _STD + "bool" and event.value not in _BOOL_12:
        return event.value, None  # `yes`, `on`, `y`: text in YAML 1.2
    if plain and tag == _STD + "int" and not (_INT_12.match(event.value) or _OCT_HEX_12.match(event.value)):
        return event.value, None  # `1_000`, `1:30`, `0b11`: text in YAML 1.2
    if plain and tag == _STD + "float" and not (_FLOAT_12.match(event.value) or _SPECIAL_FLOAT_12.match(event.value)
                                                or re.match(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)$", event.value)):
        return event.value, None  # `1_000.5`, `1:30.5`: text in YAML 1.2
    if tag in (_STD + "int", _STD + "float") and len(event.value) > MAX_NUMBER_CHARS:
        return math.inf, f"a number of {len(event.value)} characters is out of range for any {what} value"
    if tag not in _SCALAR_TAGS:  # timestamps, binary, sets, merge, value keys: keep the text
        return event.value, None
    if tag == _STD + "float" and _FLOAT_12.match(event.value):
        value = float(event.value)
        if math.isinf(value):
            return math.inf, f"{event.value} is out of range (too large in size for any {what} value; it reads as infinity)"
        return value, None
    if plain and tag == _STD + "int":
        if len(event.value) > 2 and event.value[:2] in ("0o", "0x"):
            return int(event.value[2:], 8 if event.value[1] == "o" else 16), None
        return int(event.value, 10), None  # `010` is ten
    node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
    try:
        value = loader.yaml_constructors[tag](loader, node)
    except Exception:  # e.g. `!!int abc`: keep the text; validation reports the type
        return event.value, None
    if isinstance(value, float) and math.isinf(value) and not event.value.lstrip("+-").lower().startswith(".inf"):
        return math.inf, f"{echo(event.value)} is out of range (too large in size for any {what} value; it reads as infinity)"
    return value, None
