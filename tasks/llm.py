"""The language-model adapter shared by stages: the ``openai`` client against any OpenAI-compatible
endpoint (hosted API, vLLM, ``transformers serve``), with a request memo so a rerun re-sends nothing
that completed.

- Requests are keyed by sha256 of (model, messages, sampling params); a memo hit returns the stored
  text without a call.
- Transient failures (connection, timeout, 429, 5xx, a 200 whose body is cut-off JSON) are retried a
  bounded number of times (``max_retries``; jittered exponential backoff never shorter than
  ``Retry-After``) by this client's own loop — the ``openai`` client's retries are off, so the bound is
  exact and a malformed body (which ``openai`` raises as a bare ``ValueError``) is retried too; what still
  fails raises ``LLMCallError`` with a stable ``reason`` (``tasks/teacher/retry.py``) for the reject row.
  Errors are memoised too, but a rerun retries them.
- The API key is a ``SecretStr`` until the client is built and is never logged or stored.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from datetime import UTC, datetime
from typing import Any, NoReturn, Protocol

import openai
from pydantic import SecretStr

from prompts import RenderedPrompt
from schemas.llm import MemoEntry
from tasks.teacher.retry import Failure, backoff_delay, bad_body, classify

_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)


class LLMCallError(RuntimeError):
    """A call that failed after retries; ``reason`` is one of http_<status>, timeout, connection."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BadModelOutput(ValueError):
    """Model text that is not the JSON object asked for; ``raw`` is kept for the reject row."""

    def __init__(self, message: str, raw: str) -> None:
        super().__init__(message)
        self.raw = raw


class CallMemo(Protocol):
    """Where completed calls are remembered (the warehouse ``llm_calls`` table in a run)."""

    def get(self, key: str) -> MemoEntry | None: ...

    def put(self, key: str, model: str, template: str, template_hash: str, entry: MemoEntry | None,
            error: str | None) -> None: ...


class NoMemo:
    def get(self, key: str) -> MemoEntry | None:
        return None

    def put(self, key: str, model: str, template: str, template_hash: str, entry: MemoEntry | None,
            error: str | None) -> None:
        return None


def request_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    blob = json.dumps({"model": model, "messages": messages, "params": params}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def parse_json_object(text: str) -> dict[str, Any]:
    """The single JSON object in a reply (code fences and surrounding prose tolerated)."""
    body = _FENCE.sub("", text.strip())
    start, end = body.find("{"), body.rfind("}")
    if start < 0 or end <= start:
        raise BadModelOutput("no JSON object in the reply", text)
    try:
        value = json.loads(body[start:end + 1])
    except json.JSONDecodeError as err:
        raise BadModelOutput(f"invalid JSON: {err.msg}", text) from err
    if not isinstance(value, dict):
        raise BadModelOutput("reply is not a JSON object", text)
    return value


class ChatClient:
    """Synchronous chat completions with memo; one instance per stage run."""

    def __init__(self, base_url: str, model: str, api_key: SecretStr | None, *, timeout_s: float = 60.0,
                 max_retries: int = 3, temperature: float = 0.0, seed: int = 42,
                 memo: CallMemo | None = None, backoff_base_s: float = 0.5, backoff_max_s: float = 8.0,
                 max_retry_after_s: float = 60.0) -> None:
        self.model = model
        self.params: dict[str, Any] = {"temperature": temperature, "seed": seed}
        self.memo: CallMemo = memo or NoMemo()
        self.calls = 0
        self.max_retries = max_retries
        self._backoff = (backoff_base_s, backoff_max_s, max_retry_after_s)
        self._rng = random.Random(seed)
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key.get_secret_value() if api_key else "none",
                                     timeout=timeout_s, max_retries=0)

    def complete(self, prompt: RenderedPrompt, system: str | None = None) -> str:
        messages: list[dict[str, Any]] = ([{"role": "system", "content": system}] if system else [])
        messages.append({"role": "user", "content": prompt.text})
        key = request_key(self.model, messages, self.params)
        hit = self.memo.get(key)
        if hit is not None:
            return hit.text
        attempts = 0
        while True:
            attempts += 1
            self.calls += 1
            t0 = time.perf_counter()
            failure: Failure
            try:
                resp = self._client.chat.completions.create(model=self.model, messages=messages,  # type: ignore[arg-type]
                                                            **self.params)
                break
            except openai.OpenAIError as err:
                failure = classify(err, datetime.now(UTC))
            except ValueError as err:          # a 200 whose body is not the JSON it claims to be
                failure = bad_body(err)
            base_s, max_s, max_after_s = self._backoff
            too_long = failure.retry_after is not None and failure.retry_after > max_after_s
            if not failure.transient or attempts > self.max_retries or too_long:
                self._fail(key, prompt, failure.reason, f"{failure.detail} (after {attempts} attempt(s))")
            time.sleep(backoff_delay(attempts, base_s, max_s, self._rng, failure.retry_after))
        text = (resp.choices[0].message.content or "") if resp.choices else ""
        usage = resp.usage
        entry = MemoEntry(text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0,
                          (time.perf_counter() - t0) * 1000)
        self.memo.put(key, self.model, prompt.template, prompt.hash, entry, None)
        return text

    def complete_json(self, prompt: RenderedPrompt, system: str | None = None) -> dict[str, Any]:
        return parse_json_object(self.complete(prompt, system))

    def _fail(self, key: str, prompt: RenderedPrompt, reason: str, detail: str) -> NoReturn:
        self.memo.put(key, self.model, prompt.template, prompt.hash, None, f"{reason}: {detail}")
        raise LLMCallError(reason, detail)
