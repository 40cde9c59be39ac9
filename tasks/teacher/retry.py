"""Which failures are worth another try, how long to wait, and what a ``Retry-After`` header means.

Transient: connection errors, timeouts, HTTP 408, 429 and 5xx, and a 200 whose body does not parse
(``bad_body``: a truncated or garbled JSON body, which ``openai`` raises as a bare ``ValueError``).
Everything else (400, 401, 403, 404, 422, ...) is permanent and fails at once. The wait before retry *n*
is exponential with equal jitter
(``base · 2^(n-1)`` capped at ``max``, then uniformly between half and all of it) and never shorter
than the server's ``Retry-After`` (``retry-after-ms``, seconds, or an HTTP date), which is a lower bound.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import openai

TRANSIENT_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Failure:
    """One failed attempt, classified."""

    reason: str                  # http_<status> | timeout | connection | bad_response
    detail: str
    transient: bool
    status: int | None = None
    retry_after: float | None = None   # seconds the server asked us to wait, if it said


def parse_retry_after(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date), or None.

    Args:
        headers: response headers (case-insensitive mapping, as httpx gives them; lower-case keys otherwise).
        now: the current UTC time, for the HTTP-date form.
    """
    raw_ms = headers.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, (when - now).total_seconds())
    return value if math.isfinite(value) and value >= 0 else None


def classify(err: Exception, now: datetime) -> Failure:
    """Turn an ``openai`` exception into a ``Failure`` (reason, transient?, Retry-After)."""
    if isinstance(err, openai.APITimeoutError):
        return Failure("timeout", "request timed out", transient=True)
    if isinstance(err, openai.APIConnectionError):
        return Failure("connection", str(err)[:300], transient=True)
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        transient = status in TRANSIENT_STATUSES or status >= 500
        retry_after = parse_retry_after(err.response.headers, now)
        return Failure(f"http_{status}", str(err.message)[:300], transient, status, retry_after)
    return Failure("bad_response", f"{type(err).__name__}: {err}"[:300], transient=False)


def bad_body(err: ValueError) -> Failure:
    """A response that arrived but does not parse (cut-off JSON): transient, the next try may be whole."""
    return Failure("bad_response", f"unparseable response body: {type(err).__name__}: {err}"[:300], transient=True)


def backoff_delay(attempt: int, base_s: float, max_s: float, rng: random.Random,
                  retry_after: float | None = None) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry)."""
    ceiling = min(max_s, base_s * 2.0 ** max(0, attempt - 1))
    jittered = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return max(jittered, retry_after or 0.0)
