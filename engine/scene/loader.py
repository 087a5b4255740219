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
from pathlib import Path

import annotated_types
from pydantic import BaseModel, ValidationError

from engine.scene.model import BUILTIN_AMBIENCE, Scene
from engine.scene.yaml_positions import Document, HostileInput, Pos, parse, read_text

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR = ROOT / "assets"
SCENES_DIR = ROOT / "scenes"
MAX_EXTENDS_DEPTH = 5
MAX_ERRORS = 50


class SceneError(Exception):
    """A scene could not be loaded; `errors` lists each as 'file:line:col key.path: message'."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


def _fmt_path(path: tuple) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "<root>"


def _error(pos: Pos, path: tuple, message: str) -> str:
    return f"{pos} {_fmt_path(path)}: {message}"


# ---------------------------------------------------------------------------------------------
# Reading files and resolving `extends`
# ---------------------------------------------------------------------------------------------


def _display(path: Path) -> str:
    """The file name as errors show it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _read_document(path: Path, chain: tuple[Path, ...], files: list[Path]) -> tuple[Document, list[str]]:
    """Parse one file and merge it over the base it extends; returns the document and errors."""
    display = _display(path)
    resolved = path.resolve()
    files.append(resolved)
    text = read_text(path, display)
    doc = parse(text, display)
    errors = [_error(pos, p, msg) for pos, p, msg in doc.problems]
    if doc.data is None:
        raise HostileInput(doc.values[()], "file is empty; a scene is a mapping with id, title, difficulty, environment ...")
    if not isinstance(doc.data, dict):
        raise HostileInput(doc.values[()], f"a scene file is a mapping of keys, not a {type(doc.data).__name__}")
    base_ref = doc.data.get("extends")
    if base_ref is None:
        return doc, errors
    where = doc.values.get(("extends",), doc.values[()])
    if not isinstance(base_ref, str) or not base_ref:
        return doc, errors + [_error(where, ("extends",), "must be a relative file path, e.g. base-grocery.yaml")]
    base_path = (path.parent / base_ref)
    if len(chain) >= MAX_EXTENDS_DEPTH:
        return doc, errors + [_error(where, ("extends",), f"more than {MAX_EXTENDS_DEPTH} levels of extends")]
    if base_path.resolve() in chain or base_path.resolve() == resolved:
        return doc, errors + [_error(where, ("extends",), f"extends itself in a cycle via {base_ref}")]
    if not base_path.is_file():
        return doc, errors + [_error(where, ("extends",), f"base scene {base_ref!r} not found next to {display}")]
    try:
        base, base_errors = _read_document(base_path, chain + (resolved,), files)
    except HostileInput as exc:
        return doc, errors + [_error(exc.pos, (), exc.message), _error(where, ("extends",), "the base scene cannot be read")]
    merged = _merge_documents(base, doc)
    return merged, base_errors + errors


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
    return Document(data=data, values=values, keys=keys)


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
        return f"at least {low:g}"
    if low is None:
        return f"at most {high:g}"
    return f"{low:g}..{high:g}"


def _did_you_mean(word, options) -> str:
    if not isinstance(word, str):
        return ""
    matches = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {matches[0]!r}?" if matches else ""


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


def _message(err: dict, owner, name) -> str:
    kind = err["type"]
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        rng = _range_text(owner, name)
        return f"{_short(value)} is out of range; allowed {rng}" if rng else err["msg"]
    if kind == "missing":
        return "missing required key"
    if kind in ("too_long", "too_short"):
        limit = f"at most {ctx.get('max_length')}" if kind == "too_long" else f"at least {ctx.get('min_length')}"
        return f"has {ctx.get('actual_length')} entries; {limit} allowed"
    if kind == "extra_forbidden":
        options = owner.model_fields.keys() if owner is not None else []
        return f"unknown key{_did_you_mean(err['loc'][-1], options)}"
    if kind == "literal_error":
        options = [o.strip().strip("'") for o in ctx.get("expected", "").replace(" or ", ", ").split(",")]
        return f"{_short(value)} is not allowed; use one of {ctx.get('expected', '')}{_did_you_mean(value, options)}"
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        if pattern.startswith("^(#"):
            return f"{_short(value)} is not a colour; use a name (red, green, blue, yellow, ...) or #rrggbb"
        return f"{_short(value)} has the wrong form; use lowercase letters, digits and dashes"
    if kind in ("float_type", "int_type", "bool_type", "string_type", "list_type", "model_type", "dict_type", "int_from_float", "finite_number"):
        wanted = {
            "float_type": "a number", "int_type": "a whole number", "bool_type": "true or false",
            "string_type": "text", "list_type": "a list", "model_type": "a mapping of keys",
            "dict_type": "a mapping of keys", "int_from_float": "a whole number", "finite_number": "a finite number",
        }[kind]
        rng = _range_text(owner, name)
        extra = f" ({rng})" if rng else ""
        return f"expected {wanted}{extra}, got {_short(value)}"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])).removeprefix("Value error, ")
    return err["msg"]


def _validation_errors(exc: ValidationError, doc: Document) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            ctx = err.get("ctx") or {}
            disc = ctx.get("discriminator", "'kind'").strip("'")
            expected = [t.strip().strip("'") for t in ctx.get("expected_tags", "").split(",")]
            loc = loc + (disc,)
            clean, present, full = _locate(doc, loc)
            pos = doc.values.get(present, doc.values[()])
            if err["type"] == "union_tag_invalid":
                tag = ctx.get("tag")
                message = f"unknown {disc} {tag!r}{_did_you_mean(tag, expected)} (one of: {', '.join(expected)})"
            else:
                message = f"missing required key; one of: {', '.join(expected)}"
            out.append(_error(pos, clean, message))
            continue
        owner, name = _field_at(loc)
        if err["type"] == "extra_forbidden":
            owner, _ = _field_at(loc[:-1])
        clean, present, full = _locate(doc, loc)
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


def load_scene(path: str | Path) -> Scene:
    """Load and validate one scene file; raises SceneError (only) with every error found."""
    path = Path(path)
    files: list[Path] = []
    try:
        doc, errors = _read_document(path, (), files)
    except HostileInput as exc:
        raise SceneError([_error(exc.pos, (), exc.message)]) from None
    except RecursionError:
        raise SceneError([f"{_display(path)}:1:1 <root>: nesting too deep; refused"]) from None
    data = doc.data
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "extends"}
        if isinstance(doc.data.get("extends"), str):
            data["extends"] = doc.data["extends"]
    scene = None
    try:
        scene = Scene.model_validate(data, context={"defer_problems": True})
    except ValidationError as exc:
        errors += _validation_errors(exc, doc)
    except (RecursionError, ValueError, TypeError) as exc:  # pydantic should not, but never crash
        errors.append(f"{_display(path)}:1:1 <root>: cannot validate: {exc}")
    if scene is not None:
        for loc, message in scene.problems():
            clean, present, _ = _locate(doc, loc)
            errors.append(_error(doc.values.get(present, doc.values[()]), clean, message))
        errors += _asset_errors(scene, doc)
    if errors:
        errors.sort(key=_error_order)
        if len(errors) > MAX_ERRORS:
            errors = errors[:MAX_ERRORS] + [f"{_display(path)}:1:1 <root>: ... and {len(errors) - MAX_ERRORS} more errors"]
        raise SceneError(errors)
    scene._files = tuple(files)
    return scene


def scene_files(folder: str | Path) -> list[Path]:
    """Scene YAML files in a folder (not recursive), sorted by name."""
    folder = Path(folder)
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])


@dataclass
class SceneLibrary:
    """Every scene in a folder: the good ones by id, the broken ones by path with their errors."""

    scenes: dict[str, Scene] = field(default_factory=dict)
    broken: dict[str, list[str]] = field(default_factory=dict)
    bases: dict[str, Scene] = field(default_factory=dict)  # abstract scenes (not in the menu)
    files: dict[str, Path] = field(default_factory=dict)  # scene id -> file

    def paths(self) -> list[Path]:
        """All scene files the library looked at, good and broken, sorted."""
        return sorted({*self.files.values(), *(s.source_path for s in self.bases.values() if s.source_path), *map(Path, self.broken)})

    def sorted_scenes(self) -> list[Scene]:
        """Scenes for the menu: grocery first, then by difficulty and title."""
        order = {"gentle": 0, "moderate": 1, "hard": 2}
        return sorted(self.scenes.values(), key=lambda s: (s.environment.type, order[s.difficulty], s.title))


def load_library(folder: str | Path = SCENES_DIR) -> SceneLibrary:
    """Load every scene in a folder; never raises for a bad file (it goes to `broken`)."""
    library = SceneLibrary()
    for path in scene_files(folder):
        try:
            scene = load_scene(path)
        except SceneError as exc:
            library.broken[str(path)] = exc.errors
            log.warning("scene %s is broken: %s", path, exc.errors[0] if exc.errors else "?")
            continue
        except Exception as exc:  # a loader bug must not stop the app either
            log.exception("unexpected error loading %s", path)
            library.broken[str(path)] = [f"{_display(path)}:1:1 <root>: internal error: {exc}"]
            continue
        if scene.abstract:
            library.bases[scene.id] = scene
            continue
        if scene.id in library.files:
            library.broken[str(path)] = [f"{_display(path)}:1:1 id: {scene.id!r} is already used by {library.files[scene.id].name}"]
            continue
        library.scenes[scene.id] = scene
        library.files[scene.id] = path
    return library


def find_scene(scene_id: str, folder: str | Path = SCENES_DIR) -> Scene:
    """The scene with this id in the folder; raises SceneError if missing or broken."""
    library = load_library(folder)
    if scene_id in library.scenes:
        return library.scenes[scene_id]
    for path, errors in library.broken.items():
        if Path(path).stem == scene_id:
            raise SceneError(errors)
    known = sorted(library.scenes)
    hint = _did_you_mean(scene_id, known)
    raise SceneError([f"{_display(Path(folder))}:1:1 id: no scene {scene_id!r} in this folder{hint} (scenes: {', '.join(known)})"])


__all__ = ["SceneError", "SceneLibrary", "asset_path", "find_scene", "load_library", "load_scene", "scene_files"]
