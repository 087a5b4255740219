"""Load scene YAML into `Scene` models with errors a designer can act on.

Every error reads `file:line:col key.path: message`, all errors of a file come at once, unknown
keys and kinds get a did-you-mean, out-of-range values state the range. A scene may `extends:` a
base file and override parts of it: mappings merge key by key, lists and values replace, and each
value keeps the position of the file it came from. `load_library` never raises for a bad file:
the menu lists it as broken with its errors.
"""

from __future__ import annotations

import difflib
import logging
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import annotated_types
from pydantic import BaseModel, ValidationError

from devices.yaml_positions import (
    Document,
    HostileInput,
    Pos,
    echo,
    file_kind,
    parse,
    printable,
    read_text,
)
from engine.scene.model import BUILTIN_AMBIENCE, Scene

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR = ROOT / "assets"
SCENES_DIR = ROOT / "scenes"
MAX_EXTENDS_DEPTH = 5
MAX_ERRORS = 50
SCENE_SUFFIXES = (".yaml", ".yml")
SCENE_KEYS = frozenset(Scene.model_fields)


class SceneError(Exception):
    """A scene could not be loaded; `errors` lists each as 'file:line:col key.path: message'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_<>-]{1,40}$")


def _fmt_path(path: tuple) -> str:
    """`obstacles[2].at_m`; a key that is not plain short text is quoted and cut (never raw)."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        else:
            text = part if isinstance(part, str) and _PLAIN_KEY.match(part) else echo(part)
            out += ("." if out else "") + text.replace(" ", "\\x20")  # the path stays one word
    return out or "<root>"


def _error(pos: Pos, path: tuple, message: str) -> str:
    return f"{pos} {_fmt_path(path)}: {message}"


# ---------------------------------------------------------------------------------------------
# Reading files and resolving `extends`
# ---------------------------------------------------------------------------------------------


def _display(path: Path) -> str:
    """The file name as errors show it: relative to the working directory when inside it."""
    try:
        text = str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError, RuntimeError):
        text = str(path)
    return printable(text)


def _refuse_non_scene(doc: Document, base: bool) -> None:
    """A file that is not a scene is refused as a whole, naming none of its keys or values (the
    therapist menu shows errors: a secrets file must not leak through them). A scene attempt has
    at least as many scene keys as other keys at its top; a base file only scene keys."""
    data = doc.data
    where = doc.values[()]
    if data is None:
        raise HostileInput(where, "file is empty; a scene is a mapping with id, title, difficulty, environment ...")
    if not isinstance(data, dict):
        raise HostileInput(where, f"a scene file is a mapping of keys, not a {type(data).__name__}")
    known = sum(1 for k in data if isinstance(k, str) and k in SCENE_KEYS)
    other = len(data) - known
    if known == 0 or other > known or (base and other):
        raise HostileInput(where, "not a scene file: its top-level keys are not scene keys (a scene has id, title, "
                                  "difficulty, environment ...); nothing from it is shown")


def _base_path(ref: str, path: Path, roots: tuple[Path, ...]) -> tuple[Path | None, str]:
    """The file `extends: ref` names, relative to the extending file's folder, or (None, why not).

    Confined like assets are: a plain relative .yaml path without `..`, resolving (symlinks
    followed) to a regular file inside one of `roots` (the scene's own folder and scenes/)."""
    if "\\" in ref or any(not ch.isprintable() for ch in ref):
        return None, "must be a plain relative file name with forward slashes, e.g. base-grocery.yaml"
    pure = PurePosixPath(ref)
    if pure.is_absolute() or ref.startswith("~") or re.match(r"^[A-Za-z]:", ref):
        return None, "an absolute path is refused; name a base file in this scene's folder, e.g. base-grocery.yaml"
    if ".." in pure.parts:
        return None, "a path with '..' is refused; a base scene lives in this scene's folder or scenes/"
    if pure.suffix.lower() not in SCENE_SUFFIXES:
        return None, "must name a .yaml scene file, e.g. base-grocery.yaml"
    candidate = path.parent / ref
    try:
        target = candidate.resolve(strict=True)
        mode = target.stat().st_mode
    except FileNotFoundError:
        return None, f"base scene {echo(ref)} not found next to {_display(path)}"
    except (OSError, RuntimeError):  # a symlink loop, a permission problem
        return None, f"base scene {echo(ref)} cannot be opened (a link loop or no permission)"
    if not any(target.is_relative_to(root) for root in roots):
        return None, "the base scene resolves outside the scenes folders (a link out of them?); refused"
    kind = file_kind(mode)
    if kind is not None:
        return None, f"base scene {echo(ref)} is not a regular file but {kind}"
    return target, ""


def _read_document(path: Path, chain: tuple[Path, ...], files: list[Path],
                   roots: tuple[Path, ...]) -> tuple[Document, list[str], bool]:
    """Parse one file and merge it over the base it extends.

    Returns the document, its errors, and whether `extends` failed (then keys the base would
    have given are missing, and saying so would only bury the real error)."""
    display = _display(path)
    resolved = path.resolve()
    files.append(resolved)
    text = read_text(path, display)
    doc = parse(text, display)
    _refuse_non_scene(doc, base=bool(chain))
    errors = [_error(pos, p, msg) for pos, p, msg in doc.problems]
    base_ref = doc.data.get("extends")
    if base_ref is None:
        return doc, errors, False
    where = doc.values.get(("extends",), doc.values[()])
    if not isinstance(base_ref, str) or not base_ref:
        return doc, errors + [_error(where, ("extends",), "must be a relative file path, e.g. base-grocery.yaml")], True
    if len(base_ref) > 200:
        return doc, errors + [_error(where, ("extends",), f"has {len(base_ref)} characters; at most 200 allowed")], True
    base_path, why = _base_path(base_ref, path, roots)
    if base_path is None:
        return doc, errors + [_error(where, ("extends",), why)], True
    if base_path in chain or base_path == resolved:
        return doc, errors + [_error(where, ("extends",), f"extends itself in a cycle via {echo(base_ref)}")], True
    if len(chain) >= MAX_EXTENDS_DEPTH:
        return doc, errors + [_error(where, ("extends",), f"more than {MAX_EXTENDS_DEPTH} levels of extends")], True
    try:
        base, base_errors, failed = _read_document(base_path, chain + (resolved,), files, roots)
    except HostileInput as exc:
        return doc, errors + [_error(exc.pos, (), exc.message), _error(where, ("extends",), "the base scene cannot be used")], True
    merged = _merge_documents(base, doc)
    return merged, base_errors + errors, failed


def _merge_documents(base: Document, child: Document) -> Document:
    """Child over base: mappings merge recursively, anything else replaces (positions follow)."""
    values = dict(base.values)
    keys = dict(base.keys)

    def drop_under(prefix: tuple) -> None:
        for table in (values, keys):
            for p in [p for p in table if p[: len(prefix)] == prefix and len(p) > len(prefix)]:
                del table[p]

    def merge(b, c, prefix: tuple):
        # a different `type`/`kind` (e.g. sidewalk over grocery_store) replaces instead of merging
        switched = isinstance(b, dict) and isinstance(c, dict) and any(
            k in c and k in b and c[k] != b[k] for k in ("type", "kind"))
        if isinstance(b, dict) and isinstance(c, dict) and not switched:
            out = dict(b)
            for k, v in c.items():
                out[k] = merge(b[k], v, prefix + (k,)) if k in b else v
                if out[k] is v:
                    drop_under(prefix + (k,))
            return out
        return c

    data = merge(base.data, child.data, ())
    data.pop("abstract", None)  # being a base is not inherited
    if "abstract" in child.data:
        data["abstract"] = child.data["abstract"]
    values.update(child.values)
    keys.update(child.keys)
    for table in (values, keys):
        if ("abstract",) not in child.keys and ("abstract",) in table:
            del table[("abstract",)]
    return Document(data=data, values=values, keys=keys, problems=base.problems + child.problems)


# ---------------------------------------------------------------------------------------------
# Mapping validation errors back to positions, with helpful messages
# ---------------------------------------------------------------------------------------------


def _unwrap(annotation):
    """Strip Annotated and Optional; returns the inner annotation (a union stays a union)."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) == 1:
                annotation = args[0]
                continue
        return annotation


def _union_member(annotation, tag):
    for member in typing.get_args(annotation):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for disc in ("kind", "type"):
                f = member.model_fields.get(disc)
                if f is not None and tag in typing.get_args(f.annotation):
                    return member
    return None


def _field_at(loc: tuple):
    """(model class, field name) of the last key in a pydantic loc, or (None, None)."""
    annotation = Scene
    owner, name = None, None
    for element in loc:
        annotation = _unwrap(annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if element not in annotation.model_fields:
                return annotation, None
            owner, name = annotation, element
            annotation = annotation.model_fields[element].annotation
        elif origin is list and isinstance(element, int):
            annotation = typing.get_args(annotation)[0]
            owner, name = None, None
        elif origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            member = _union_member(annotation, element)
            if member is None:
                return None, None
            annotation = member
            owner, name = member, None
        else:
            return None, None
    annotation = _unwrap(annotation)
    if name is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, None
    return owner, name


def _range_text(owner, name) -> str | None:
    if owner is None or name is None:
        return None
    low = high = None
    for meta in owner.model_fields[name].metadata:
        if isinstance(meta, (annotated_types.Ge, annotated_types.Gt)):
            low = getattr(meta, "ge", getattr(meta, "gt", None))
        if isinstance(meta, (annotated_types.Le, annotated_types.Lt)):
            high = getattr(meta, "le", getattr(meta, "lt", None))
    if low is None and high is None:
        return None
    if high is None:
        return f"at least {_number(low)}"
    if low is None:
        return f"at most {_number(high)}"
    return f"{_number(low)}..{_number(high)}"


def _number(value) -> str:
    """A range bound as a designer writes it: 2147483647, not 2.14748e+09; 0.05, not 5e-02."""
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.6g}"


def _did_you_mean(word, options) -> str:
    if not isinstance(word, str) or len(word) > 60:
        return ""
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _short(value) -> str:
    """A value quoted in an error: scalars cut to 40 characters; a mapping or list by its shape
    only (its contents may be anything, and a message must not carry them)."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if value is None or isinstance(value, bool):  # as the file spells them (YAML), not Python's None/True
        return {None: "null (an empty value)", True: "true", False: "false"}[value]
    return echo(value)


def _locate(doc: Document, loc: tuple) -> tuple[tuple, tuple, bool]:
    """(key path without union tags, longest path present in the file, whether fully present)."""
    clean: list = []
    present: tuple = ()
    node = doc.data
    full = True
    for element in loc:
        if isinstance(node, dict) and element in node:
            clean.append(element)
            node = node[element]
            if tuple(clean) in doc.values:
                present = tuple(clean)
            continue
        if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            clean.append(element)
            node = node[element]
            if tuple(clean) in doc.values:
                present = tuple(clean)
            continue
        if isinstance(node, dict) and isinstance(element, str) and element in (node.get("kind"), node.get("type")):
            continue  # a discriminated union's tag: not a key in the file
        if isinstance(element, str) and any(ch in element for ch in "[(,"):
            continue  # a plain union's member label, e.g. "function-after[...]"
        clean.append(element)
        full = False
        node = None
    return tuple(clean), present, full


_WANTED = {
    "float_type": "a number", "int_type": "a whole number", "bool_type": "true or false",
    "string_type": "text", "list_type": "a list", "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys", "dict_type": "a mapping of keys",
    "int_from_float": "a whole number", "finite_number": "a finite number",
    "float_parsing": "a number", "int_parsing": "a whole number", "bool_parsing": "true or false",
}


def _key_of_a_sibling(owner, key) -> str:
    """For a key unknown to this kind of obstacle, fixture or environment but known to another:
    "; 'aisles' is a key of a grocery_store environment, not of a sidewalk"."""
    import engine.scene.model as models

    if owner is None or not isinstance(key, str):
        return ""
    tag_name = next((t for t in ("kind", "type") if t in owner.model_fields), None)
    if tag_name is None:
        return ""
    mine = getattr(owner.model_fields[tag_name].annotation, "__args__", (None,))[0]
    others = []
    for cls in vars(models).values():
        if (isinstance(cls, type) and issubclass(cls, models.StrictModel) and cls is not owner
                and tag_name in cls.model_fields and key in cls.model_fields):
            tag = getattr(cls.model_fields[tag_name].annotation, "__args__", (None,))[0]
            if isinstance(tag, str):
                others.append(tag)
    if not others or not isinstance(mine, str):
        return ""
    listed = ", ".join(sorted(others)[:4]) + (" ..." if len(others) > 4 else "")
    if tag_name == "type":
        return f"; {key!r} is a key of a {listed} environment, not of a {mine}"
    return f"; {key!r} is a key of kind {listed}, not of {mine}"


def _message(err: dict, owner, name) -> str:
    """Our wording for one pydantic error (never pydantic's own text: designers read these)."""
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        rng = _range_text(owner, name)
        return f"{_short(value)} is out of range; allowed {rng}" if rng else f"{_short(value)} is out of range"
    if kind == "missing":
        return "missing required key"
    if kind in ("too_long", "too_short"):
        limit = f"at most {ctx.get('max_length')}" if kind == "too_long" else f"at least {ctx.get('min_length')}"
        return f"has {ctx.get('actual_length')} entries; {limit} allowed"
    if kind in ("string_too_long", "string_too_short"):
        length = len(value) if isinstance(value, str) else "?"
        limit = f"at most {ctx.get('max_length')}" if kind == "string_too_long" else f"at least {ctx.get('min_length')}"
        return f"text has {length} characters; {limit} allowed"
    if kind == "extra_forbidden":
        options = owner.model_fields.keys() if owner is not None else []
        return f"unknown key{_did_you_mean(err['loc'][-1], options) or _key_of_a_sibling(owner, err['loc'][-1])}"
    if kind == "literal_error":
        options = [o.strip().strip("'") for o in ctx.get("expected", "").replace(" or ", ", ").split(",")]
        return f"{_short(value)} is not allowed; use one of {ctx.get('expected', '')}{_did_you_mean(value, options)}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if pattern.startswith("^(#"):
            return f"{_short(value)} is not a colour; use a name (red, green, blue, yellow, ...) or #rrggbb"
        limit = re.search(r"\{(\d+),(\d+)\}", pattern)
        most = f", at most {int(limit.group(2)) + 1} characters" if limit else ""
        chars = "digits, dashes and underscores" if "_" in pattern else "digits and dashes"
        return f"{_short(value)} has the wrong form; use lowercase ASCII letters, {chars}{most}"
    if kind in _WANTED:
        rng = _range_text(owner, name)
        extra = f" ({rng})" if rng else ""
        if kind == "finite_number":
            return f"{_short(value)} is not allowed; use a finite number{extra}"
        return f"expected {_WANTED[kind]}{extra}, got {_short(value)}"
    if kind == "value_error":
        return str(ctx.get("error", "invalid value")).removeprefix("Value error, ")
    return f"{_short(value)} is not valid here ({kind.replace('_', ' ')})"


def _union_tags(loc: tuple) -> list[str]:
    """The tags (kinds or types) a discriminated union at `loc` accepts, from the models."""
    annotation = Scene
    for element in loc:
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field_info = annotation.model_fields.get(element) if isinstance(element, str) else None
            if field_info is None:
                return []
            annotation = field_info.annotation
        elif typing.get_origin(annotation) is list and isinstance(element, int):
            annotation = typing.get_args(annotation)[0]
        else:
            return []
    annotation = _unwrap(annotation)
    if typing.get_origin(annotation) is list:
        annotation = _unwrap(typing.get_args(annotation)[0])
    tags = []
    for member in typing.get_args(annotation):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            for disc in ("kind", "type"):
                f = member.model_fields.get(disc)
                if f is not None:
                    tags += [t for t in typing.get_args(f.annotation) if isinstance(t, str)]
    return tags


def _value_at(data, path: tuple):
    """The plain value at a key path of the file's data (None when absent)."""
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return None
    return node


def _validation_errors(exc: ValidationError, doc: Document, skip_missing: bool) -> list[str]:
    out = []
    already = doc.problem_paths()
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if skip_missing and err["type"] in ("missing", "union_tag_not_found"):
            continue  # `extends` failed: the base would have given these
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            ctx = err.get("ctx") or {}
            disc = ctx.get("discriminator", "'kind'").strip("'")
            expected = _union_tags(loc) or [t.strip().strip("'") for t in ctx.get("expected_tags", "").split(",") if t.strip()]
            loc = loc + (disc,)
            clean, present, full = _locate(doc, loc)
            pos = doc.values.get(present, doc.values[()])
            if err["type"] == "union_tag_invalid":
                tag = ctx.get("tag")
                raw = _value_at(doc.data, clean)
                if not isinstance(raw, str) and (raw is not None or tag == "None"):  # a number, true, a list, null
                    message = f"{disc} must be text, got {_short(raw)} (one of: {', '.join(expected)})"
                else:
                    message = f"unknown {disc} {_short(tag)}{_did_you_mean(tag, expected)} (one of: {', '.join(expected)})"
            else:
                message = f"missing required key; one of: {', '.join(expected)}"
            out.append(_error(pos, clean, message))
            continue
        owner, name = _field_at(loc)
        if err["type"] == "extra_forbidden":
            owner, _ = _field_at(loc[:-1])
        clean, present, full = _locate(doc, loc)
        if clean in already:
            continue  # the reader already said what is wrong here (e.g. a number out of range)
        if err["type"] == "extra_forbidden" and full:
            pos = doc.keys.get(clean, doc.values.get(present, doc.values[()]))
        else:
            pos = doc.values.get(present, doc.values[()])
        out.append(_error(pos, clean, _message(err, owner, name)))
    return out


def _asset_errors(scene: Scene, doc: Document) -> list[str]:
    """Referenced assets must exist inside assets/ (symlinks out of it are refused too)."""
    refs: list[tuple[tuple, str]] = []
    for i, prop in enumerate(scene.props):
        refs.append((("props", i, "model"), prop.model))
        if prop.texture:
            refs.append((("props", i, "texture"), prop.texture))
    if scene.audio.ambience not in BUILTIN_AMBIENCE:
        refs.append((("audio", "ambience"), scene.audio.ambience))
    out = []
    root = ASSETS_DIR.resolve()
    for path, ref in refs:
        target = (ASSETS_DIR / ref).resolve()
        pos = doc.values.get(path, doc.values[()])
        if not target.is_relative_to(root):
            out.append(_error(pos, path, "path leaves assets/ (refused)"))
        elif not target.is_file():
            out.append(_error(pos, path, f"asset {ref!r} not found under assets/"))
    return out


_ERROR_AT = re.compile(r"^(.*?):(\d+):(\d+) ")


def _error_order(error: str) -> tuple:
    """Errors read top to bottom: by file, line, column."""
    match = _ERROR_AT.match(error)
    return (match.group(1), int(match.group(2)), int(match.group(3))) if match else ("", 0, 0)


def asset_path(ref: str) -> Path:
    """Absolute path of an asset reference that a loaded scene carries."""
    return ASSETS_DIR / ref


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _findings(scene: Scene, doc: Document, strict: bool) -> tuple[list[str], list[str]]:
    """Layout and consistency rules (engine.scene.rules) as (errors, warnings), each positioned."""
    from engine.scene.rules import check_scene

    errors, warnings = [], []
    for finding in check_scene(scene):
        clean, present, _ = _locate(doc, finding.loc)
        line = _error(doc.values.get(present, doc.values[()]), clean, finding.message)
        if finding.severity == "error":
            errors.append(line)
        elif strict:
            errors.append(line + " (a warning; --strict makes it an error)")
        else:
            warnings.append(_warning_line(line))
    return errors, warnings


def _warning_line(line: str) -> str:
    """'file:l:c key: message' -> 'file:l:c key: warning: message'."""
    match = _ERROR_AT.match(line)
    head_end = line.find(": ", match.end() if match else 0)
    return line if head_end < 0 else line[: head_end + 2] + "warning: " + line[head_end + 2:]


def _confined_roots(path: Path) -> tuple[Path, ...]:
    roots = [SCENES_DIR.resolve()]
    try:
        roots.append(path.parent.resolve())
    except (OSError, RuntimeError):
        pass
    return tuple(roots)


def load_scene(path: str | Path, *, strict: bool = False, root: str | Path | None = None) -> Scene:
    """Load and validate one scene file; raises SceneError (only) with every error found.

    Warnings (layout rules that do not stop a session) are on `scene.warnings`; `strict=True`
    makes them errors. `root`: refuse the file itself when it resolves outside this folder (a
    folder of scenes holding a link out of it)."""
    path = Path(path)
    files: list[Path] = []
    display = _display(path)
    try:
        if root is not None and not path.resolve().is_relative_to(Path(root).resolve()):
            raise HostileInput(Pos(display, 1, 1), "the file resolves outside its scenes folder (a link out of it?); refused")
        doc, errors, extends_failed = _read_document(path, (), files, _confined_roots(path))
    except HostileInput as exc:
        raise SceneError([_error(exc.pos, (), exc.message)]) from None
    except RecursionError:
        raise SceneError([f"{display}:1:1 <root>: nesting too deep; refused"]) from None
    except (OSError, RuntimeError):  # Path.resolve on a symlink loop
        raise SceneError([f"{display}:1:1 <root>: cannot be read: a symbolic link loop or an unreachable path"]) from None
    data = {k: v for k, v in doc.data.items() if k != "extends"}
    if isinstance(doc.data.get("extends"), str):
        data["extends"] = doc.data["extends"]
    scene = None
    try:
        scene = Scene.model_validate(data, context={"defer_problems": True})
    except ValidationError as exc:
        errors += _validation_errors(exc, doc, skip_missing=extends_failed)
    except (RecursionError, ValueError, TypeError) as exc:  # pydantic should not, but never crash
        errors.append(f"{display}:1:1 <root>: cannot validate ({type(exc).__name__})")
    warnings: list[str] = []
    if scene is not None:
        for loc, message in scene.problems():
            clean, present, _ = _locate(doc, loc)
            errors.append(_error(doc.values.get(present, doc.values[()]), clean, message))
        errors += _asset_errors(scene, doc)
        if not errors:
            rule_errors, warnings = _findings(scene, doc, strict)
            errors += rule_errors
    if errors:
        errors.sort(key=_error_order)
        if len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + [f"{display}:1:1 <root>: ... and {len(errors) - MAX_ERRORS} more errors"]
        raise SceneError(errors)
    warnings.sort(key=_error_order)
    scene._files = tuple(files)
    scene._warnings = tuple(warnings)
    scene._id_at = str(doc.values.get(("id",), doc.values[()]))
    return scene


def scene_files(folder: str | Path) -> list[Path]:
    """Scene YAML files in a folder (not recursive, hidden files skipped), sorted by name."""
    folder = Path(folder)
    found = [*folder.glob("*.yaml"), *folder.glob("*.yml")]
    return sorted(p for p in found if not p.name.startswith("."))


def duplicate_id_errors(scenes: list[tuple[Path, Scene]]) -> dict[Path, list[str]]:
    """Scenes sharing an id, each with an error naming the other files: no run or preview may
    silently pick one of them."""
    by_id: dict[str, list[tuple[Path, Scene]]] = {}
    for path, scene in scenes:
        by_id.setdefault(scene.id, []).append((path, scene))
    out: dict[Path, list[str]] = {}
    for scene_id, group in by_id.items():
        if len(group) < 2:
            continue
        for path, scene in group:
            others = ", ".join(_display(p) for p, _ in group if p != path)
            where = getattr(scene, "_id_at", None) or f"{_display(path)}:1:1"
            out[path] = [f"{where} id: {scene_id!r} is also the id of {others}; scene ids must be unique"]
    return out


@dataclass
class SceneLibrary:
    """Every scene in a folder: the good ones by id, the broken ones by path with their errors."""

    scenes: dict[str, Scene] = field(default_factory=dict)
    broken: dict[str, list[str]] = field(default_factory=dict)
    bases: dict[str, Scene] = field(default_factory=dict)  # abstract scenes (not in the menu)
    files: dict[str, Path] = field(default_factory=dict)  # scene id -> file
    duplicates: dict[str, list[Path]] = field(default_factory=dict)  # id used by several files -> them

    def paths(self) -> list[Path]:
        """All scene files the library looked at, good and broken, sorted."""
        return sorted({*self.files.values(), *(s.source_path for s in self.bases.values() if s.source_path), *map(Path, self.broken)})

    def sorted_scenes(self) -> list[Scene]:
        """Scenes for the menu: grocery first, then by difficulty and title."""
        order = {"gentle": 0, "moderate": 1, "hard": 2}
        return sorted(self.scenes.values(), key=lambda s: (s.environment.type, order[s.difficulty], s.title))


def load_library(folder: str | Path = SCENES_DIR) -> SceneLibrary:
    """Load every scene in a folder; never raises for a bad file (it goes to `broken`).

    Scenes that share an id all go to `broken`, each naming the others' files."""
    library = SceneLibrary()
    loaded: list[tuple[Path, Scene]] = []
    for path in scene_files(folder):
        try:
            scene = load_scene(path, root=folder)
        except SceneError as exc:
            library.broken[str(path)] = exc.errors
            log.warning("scene %s is broken: %s", path, exc.errors[0] if exc.errors else "?")
            continue
        except Exception as exc:  # a loader bug must not stop the app either
            log.exception("unexpected error loading %s", path)
            library.broken[str(path)] = [f"{_display(path)}:1:1 <root>: internal error ({type(exc).__name__})"]
            continue
        loaded.append((path, scene))
    duplicates = duplicate_id_errors(loaded)
    for path, scene in loaded:
        if path in duplicates:
            library.broken[str(path)] = duplicates[path]
            library.duplicates.setdefault(scene.id, []).append(path)
            log.warning("scene %s is broken: %s", path, duplicates[path][0])
        elif scene.abstract:
            library.bases[scene.id] = scene
        else:
            library.scenes[scene.id] = scene
            library.files[scene.id] = path
    return library


def find_scene(scene_id: str, folder: str | Path = SCENES_DIR) -> Scene:
    """The scene with this id in the folder; raises SceneError if missing, broken or not unique."""
    library = load_library(folder)
    if scene_id in library.scenes:
        return library.scenes[scene_id]
    if scene_id in library.duplicates:
        raise SceneError(library.broken[str(library.duplicates[scene_id][0])])
    for path, errors in library.broken.items():
        if Path(path).stem == scene_id:
            raise SceneError(errors)
    known = sorted(library.scenes)
    hint = _did_you_mean(scene_id, known)
    raise SceneError([f"{_display(Path(folder))}:1:1 id: no scene {echo(scene_id)} in this folder{hint} (scenes: {', '.join(known)})"])


__all__ = ["SceneError", "SceneLibrary", "asset_path", "duplicate_id_errors", "find_scene", "load_library", "load_scene",
           "scene_files"]
