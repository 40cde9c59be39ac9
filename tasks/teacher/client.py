"""The asynchronous chat client shared by the teacher, the solvers and the judges: one HTTP layer for any
OpenAI-compatible endpoint (hosted API, vLLM, ``transformers serve``).

- **Memo.** A request is keyed by the sha256 of its exact JSON body (model, messages, tools, sampling
  params, seed). A completed call is served from the memo without a request; a final error is stored
  too but retried on the next run. Identical calls in flight at the same time are sent once.
- **Retries.** Only transient failures (connection, timeout, 408, 429, 5xx, a body that does not
  parse), at most ``max_retries`` times, with jittered exponential backoff never shorter than the
  server's ``Retry-After``. The
  ``openai`` client's own retries are off (``max_retries=0``) so that this loop is the only one. A final
  failure raises ``LLMCallError(reason, detail)`` after its row is written.
- **Concurrency.** Every request holds a slot of the endpoint's ``EndpointLimiter`` (AIMD).
- **Spend.** Before each request the ``CostLedger`` checks the run's budget (``BudgetExhausted``); a
  completion is charged at the model's price; memo hits cost nothing.
- **Tools.** Tool descriptions normally live in the system prompt (the text protocol); an optional
  ``tools=`` list is passed through, and any ``tool_calls`` in the reply are folded into the text as
  ``<tool_call>{json}</tool_call>`` so the episode loop parses one format. Arguments that are not valid
  JSON are spliced in verbatim, so the parser sees (and flags) exactly what the model produced.

Memo reads and writes happen on the event loop's thread (DuckDB connections are not thread-safe). One
client per event loop. The API key stays a ``SecretStr`` until the ``openai`` client is built and is
never logged or stored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NoReturn

import openai
from openai.types.chat import ChatCompletion
from pydantic import SecretStr

from schemas.errors import ConfigError
from schemas.settings import Settings
from schemas.teacher import CallRow, ChatResult, TeacherConfig
from tasks.llm import LLMCallError
from tasks.teacher.cost import CostLedger, PriceTable
from tasks.teacher.limiter import EndpointLimiter, Outcome
from tasks.teacher.memo import MemoryMemo, MemoWriter, TeacherMemo
from tasks.teacher.retry import Failure, backoff_delay, bad_body, classify

log = logging.getLogger(__name__)

Message = dict[str, Any]


@dataclass(slots=True)
class ClientStats:
    """What the client did in this run (for the stage's counts)."""

    requests: int = 0       # HTTP requests sent, retries included
    completed: int = 0      # calls that got a completion from the endpoint
    memo_hits: int = 0      # calls served from the memo
    shared: int = 0         # calls served by an identical call in flight
    retries: int = 0
    failed: int = 0         # calls that ended in LLMCallError


def text_part(text: str) -> dict[str, Any]:
    """An OpenAI text content part."""
    return {"type": "text", "text": text}


def image_part(image: bytes, mime: str = "image/png") -> dict[str, Any]:
    """An OpenAI image content part carrying ``image`` as a base64 data URL."""
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{base64.b64encode(image).decode()}"}}


def body_key(body: dict[str, Any]) -> str:
    """The memo key of a request: sha256 of its JSON body with sorted keys."""
    blob = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def fold_tool_calls(content: str, calls: Sequence[tuple[str, str]]) -> str:
    """``content`` followed by one ``<tool_call>{"name": …, "arguments": …}</tool_call>`` per call.

    ``calls`` are ``(name, arguments JSON text)`` pairs as the API returns them; arguments that do not
    parse are kept verbatim (the turn parser reports them as malformed JSON).
    """
    blocks = []
    for name, arguments in calls:
        try:
            args = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError:
            body = '{"name": ' + json.dumps(name) + ', "arguments": ' + arguments + "}"
        else:
            body = json.dumps({"name": name, "arguments": args}, ensure_ascii=False)
        blocks.append(f"<tool_call>{body}</tool_call>")
    return "\n".join(part for part in (content.strip(), *blocks) if part)


def _reply_text(resp: ChatCompletion) -> tuple[str, str]:
    """``(text with tool calls folded in, finish reason)`` of the first choice."""
    if not resp.choices:
        return "", "empty"
    choice = resp.choices[0]
    calls = []
    for call in choice.message.tool_calls or []:
        fn = getattr(call, "function", None)
        if fn is not None:
            calls.append((str(fn.name), str(fn.arguments or "")))
        else:  # a custom (free-text) tool call
            calls.append((str(call.custom.name), json.dumps(call.custom.input)))  # type: ignore[union-attr]
    return fold_tool_calls(choice.message.content or "", calls), str(choice.finish_reason or "")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class TeacherClient:
    """Asynchronous, memoised, budgeted chat completions against one OpenAI-compatible endpoint."""

    def __init__(self, base_url: str, api_key: SecretStr | None, config: TeacherConfig, *,
                 memo: TeacherMemo | None = None, ledger: CostLedger | None = None,
                 limiter: EndpointLimiter | None = None, run_id: str | None = None,
                 rng: random.Random | None = None, now: Callable[[], datetime] = _utcnow) -> None:
        self.config = config
        self.memo: TeacherMemo = memo if memo is not None else MemoryMemo()
        self._writer = MemoWriter(self.memo)
        self.ledger = ledger if ledger is not None else CostLedger(PriceTable({}, {}))
        self.limiter = limiter if limiter is not None else EndpointLimiter.create(
            config.concurrency.initial, config.concurrency.max, config.concurrency.grow_after)
        self.run_id = run_id
        self.stats = ClientStats()
        self._rng = rng if rng is not None else random.Random(config.seed)
        self._now = now
        self._inflight: dict[str, asyncio.Future[ChatResult]] = {}
        self._client = openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key.get_secret_value() if api_key else "none",
            timeout=config.timeout_s, max_retries=0)

    async def __aenter__(self) -> TeacherClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections and the memo writer's thread."""
        await self._client.close()
        self._writer.close()

    def request_body(self, messages: list[Message], *, tools: list[dict[str, Any]] | None = None,
                     model: str | None = None, temperature: float | None = None, max_tokens: int | None = None,
                     seed: int | None = None, top_p: float | None = None,
                     stop: list[str] | None = None) -> dict[str, Any]:
        """The exact JSON body sent for these arguments (config values unless overridden)."""
        cfg = self.config
        body: dict[str, Any] = {
            "model": model or cfg.model, "messages": messages,
            "temperature": cfg.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or cfg.max_tokens, "seed": cfg.seed if seed is None else seed,
        }
        if (top_p if top_p is not None else cfg.top_p) is not None:
            body["top_p"] = top_p if top_p is not None else cfg.top_p
        if stop:
            body["stop"] = stop
        if tools:
            body["tools"] = tools
        return body

    async def chat(self, messages: list[Message], *, purpose: str, template: str = "", template_hash: str = "",
                   tools: list[dict[str, Any]] | None = None, model: str | None = None,
                   temperature: float | None = None, max_tokens: int | None = None, seed: int | None = None,
                   top_p: float | None = None, stop: list[str] | None = None) -> ChatResult:
        """One chat completion, from the memo when it completed before.

        Identical arguments are one call: give each of K rollouts its own ``seed`` (config seed + k).

        Args:
            messages: OpenAI chat messages; content may be a string or content parts
                (``text_part``, ``image_part``).
            purpose: what the call is for (``teacher``, ``judge:answer``, ``solver:no_tool``, ...), stored.
            template, template_hash: the prompt template that produced the messages, stored.
            tools: optional OpenAI ``tools`` list passed through to the endpoint.
            model, temperature, max_tokens, seed, top_p, stop: overrides of the config's values.

        Raises:
            LLMCallError: the call failed permanently or ran out of retries (its row is written).
            BudgetExhausted: the run's spend reached its cap before the call could be sent.
        """
        body = self.request_body(messages, tools=tools, model=model, temperature=temperature,
                                 max_tokens=max_tokens, seed=seed, top_p=top_p, stop=stop)
        key = body_key(body)
        hit = self.memo.lookup(key)
        if hit is not None:
            self.stats.memo_hits += 1
            return ChatResult(hit.response or "", hit.finish_reason or "", hit.prompt_tokens or 0,
                              hit.completion_tokens or 0, hit.latency_ms or 0.0, True, 0.0, 0, key, hit.model)
        pending = self._inflight.get(key)
        if pending is not None:
            result = await asyncio.shield(pending)
            self.stats.shared += 1
            return replace(result, cached=True, cost_usd=0.0, attempts=0)
        future: asyncio.Future[ChatResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._send(key, body, purpose, template, template_hash)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as err:
            future.set_exception(err)
            future.exception()  # retrieved: waiters re-raise it; no "never retrieved" warning
            raise
        else:
            future.set_result(result)
            return result
        finally:
            self._inflight.pop(key, None)

    async def _send(self, key: str, body: dict[str, Any], purpose: str, template: str,
                    template_hash: str) -> ChatResult:
        cfg = self.config
        attempts = 0
        while True:
            ticket = await self.limiter.acquire()
            try:
                self.ledger.check()
            except BaseException:
                self.limiter.release(ticket, Outcome.ERROR)
                raise
            attempts += 1
            self.stats.requests += 1
            t0 = time.perf_counter()
            try:
                resp = await self._client.post("/chat/completions", body=body, cast_to=ChatCompletion)
            except openai.OpenAIError as err:
                failure = classify(err, self._now())
                self.limiter.release(ticket, Outcome.THROTTLED if failure.status == 429 else Outcome.ERROR,
                                     failure.retry_after)
            except ValueError as err:          # a 200 whose body is not the JSON it claims (cut off): retry
                failure = bad_body(err)
                self.limiter.release(ticket, Outcome.ERROR)
            except BaseException:
                self.limiter.release(ticket, Outcome.ERROR)
                raise
            else:
                self.limiter.release(ticket, Outcome.OK)
                return await self._complete(key, body, purpose, template, template_hash, resp, attempts,
                                            (time.perf_counter() - t0) * 1000)
            too_long = failure.retry_after is not None and failure.retry_after > cfg.max_retry_after_s
            if not failure.transient or attempts > cfg.max_retries or too_long:
                detail = failure.detail + (f" (Retry-After {failure.retry_after:.0f}s > max_retry_after_s)"
                                           if too_long else "")
                await self._fail(key, body, purpose, template, template_hash, replace(failure, detail=detail),
                                 attempts)
            delay = backoff_delay(attempts, cfg.backoff_base_s, cfg.backoff_max_s, self._rng, failure.retry_after)
            self.stats.retries += 1
            log.debug("llm call %s: %s, retry %d in %.2fs", key[:12], failure.reason, attempts, delay)
            await asyncio.sleep(delay)

    async def _complete(self, key: str, body: dict[str, Any], purpose: str, template: str, template_hash: str,
                        resp: ChatCompletion, attempts: int, latency_ms: float) -> ChatResult:
        text, finish = _reply_text(resp)
        pt = resp.usage.prompt_tokens if resp.usage else 0
        ct = resp.usage.completion_tokens if resp.usage else 0
        model = str(body["model"])
        cost = self.ledger.charge_tokens(model, pt, ct)
        await self._writer.write(CallRow(key, model, purpose, template, template_hash, text, finish, None, None,
                                         pt, ct, latency_ms, cost, attempts, self.run_id, self._now()))
        self.stats.completed += 1
        return ChatResult(text, finish, pt, ct, latency_ms, False, cost, attempts, key, model)

    async def _fail(self, key: str, body: dict[str, Any], purpose: str, template: str, template_hash: str,
                    failure: Failure, attempts: int) -> NoReturn:
        await self._writer.write(CallRow(key, str(body["model"]), purpose, template, template_hash, None, None,
                                         failure.reason, f"{failure.reason}: {failure.detail}", None, None, None,
                                         0.0, attempts, self.run_id, self._now()))
        self.stats.failed += 1
        log.info("llm call %s failed after %d attempt(s): %s", key[:12], attempts, failure.reason)
        raise LLMCallError(failure.reason, failure.detail)


def teacher_from_settings(settings: Settings, config: TeacherConfig, **kwargs: Any) -> TeacherClient:
    """Build the client for the teacher endpoint in ``settings`` (keyword arguments go to the client).

    Raises:
        ConfigError: no endpoint configured, or the offline teacher was asked for an endpoint.
    """
    if config.offline:
        raise ConfigError(f"teacher.model is {config.model!r} (offline); no endpoint client is needed")
    if not settings.teacher_base_url:
        raise ConfigError(f"teacher.model is {config.model!r} but SEARCHVL_TEACHER_BASE_URL is not set; "
                          "point it at an OpenAI-compatible endpoint (or use model: path-guided)")
    return TeacherClient(settings.teacher_base_url, settings.teacher_api_key, config, **kwargs)
