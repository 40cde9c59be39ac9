"""The AIMD concurrency limit (pure, injected clock), its asyncio wrapper, and the retry policy's pieces:
Retry-After parsing (seconds, milliseconds, HTTP date) and jittered backoff as a lower-bounded delay."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tasks.teacher.limiter import AimdLimit, EndpointLimiter, Outcome, Ticket
from tasks.teacher.retry import backoff_delay, parse_retry_after


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def fill(limit: AimdLimit) -> list[Ticket]:
    out = []
    while (t := limit.try_acquire()) is not None:
        out.append(t)
    return out


def test_starts_at_initial_and_never_exceeds_the_limit() -> None:
    limit = AimdLimit(4, 16, clock=Clock())
    tickets = fill(limit)
    assert len(tickets) == 4 and limit.in_flight == 4
    limit.release(tickets[0], Outcome.OK)
    assert limit.try_acquire() is not None and limit.try_acquire() is None


def test_grows_by_one_after_n_successes_up_to_max() -> None:
    limit = AimdLimit(2, 3, grow_after=3, clock=Clock())
    for _ in range(3):
        limit.release(limit.try_acquire() or Ticket(0), Outcome.OK)
    assert limit.limit == 3
    for _ in range(10):
        limit.release(limit.try_acquire() or Ticket(0), Outcome.OK)
    assert limit.limit == 3                            # capped at max


def test_a_429_halves_the_limit_once_per_burst_and_never_below_one() -> None:
    limit = AimdLimit(16, 64, clock=Clock())
    burst = fill(limit)
    for t in burst:                                    # 16 requests sent under limit 16 all get 429
        limit.release(t, Outcome.THROTTLED)
    assert limit.limit == 8                            # one halving for the whole burst
    for _ in range(6):                                 # 429s of fresh requests keep halving, floor 1
        limit.release(limit.try_acquire() or Ticket(limit.epoch), Outcome.THROTTLED)
    assert limit.limit == 1


def test_other_errors_do_not_change_the_limit_and_reset_nothing() -> None:
    limit = AimdLimit(4, 8, grow_after=2, clock=Clock())
    limit.release(limit.try_acquire() or Ticket(0), Outcome.OK)
    limit.release(limit.try_acquire() or Ticket(0), Outcome.ERROR)
    assert limit.limit == 4
    limit.release(limit.try_acquire() or Ticket(0), Outcome.OK)
    assert limit.limit == 5


def test_retry_after_pauses_the_endpoint_until_it_passes() -> None:
    clock = Clock()
    limit = AimdLimit(4, 8, clock=clock)
    t = limit.try_acquire()
    assert t is not None
    limit.release(t, Outcome.THROTTLED, retry_after=2.5)
    assert limit.paused_for() == pytest.approx(2.5)
    assert limit.try_acquire() is None                 # paused although slots are free
    clock.t += 2.4
    assert limit.try_acquire() is None
    clock.t += 0.1
    assert limit.paused_for() == 0 and limit.try_acquire() is not None


def test_a_shorter_retry_after_does_not_shorten_a_pause() -> None:
    clock = Clock()
    limit = AimdLimit(4, 8, clock=clock)
    a, b = limit.try_acquire(), limit.try_acquire()
    assert a is not None and b is not None
    limit.release(a, Outcome.THROTTLED, retry_after=5)
    limit.release(b, Outcome.THROTTLED, retry_after=1)
    assert limit.paused_for() == pytest.approx(5)


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="initial"):
        AimdLimit(0, 4)
    with pytest.raises(ValueError, match="initial"):
        AimdLimit(5, 4)


def test_async_limiter_caps_concurrency_and_wakes_waiters() -> None:
    async def main() -> int:
        limiter = EndpointLimiter(AimdLimit(3, 3))
        running, peak = 0, 0

        async def job() -> None:
            nonlocal running, peak
            ticket = await limiter.acquire()
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.005)
            running -= 1
            limiter.release(ticket, Outcome.OK)

        await asyncio.wait_for(asyncio.gather(*(job() for _ in range(20))), 5)
        assert limiter.state.in_flight == 0
        return peak

    assert asyncio.run(main()) == 3


def test_a_cancelled_waiter_does_not_strand_the_others() -> None:
    async def main() -> None:
        limiter = EndpointLimiter(AimdLimit(1, 1))
        held = await limiter.acquire()
        first = asyncio.create_task(limiter.acquire())
        second = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release(held, Outcome.OK)              # wakes `first` ...
        first.cancel()                                 # ... which is cancelled before it runs
        ticket = await asyncio.wait_for(second, 1)     # the wake-up is handed on
        limiter.release(ticket, Outcome.OK)

    asyncio.run(main())


NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "2"}, 2.0),
    ({"retry-after": "0.25"}, 0.25),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": format_datetime(NOW + timedelta(seconds=7), usegmt=True)}, 7.0),
    ({"retry-after": format_datetime(NOW - timedelta(seconds=7), usegmt=True)}, 0.0),
    ({"retry-after": "soon"}, None),
    ({"retry-after": "-3"}, None),
    ({}, None),
])
def test_retry_after_forms(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, NOW) == expected


def test_backoff_is_exponential_jittered_capped_and_bounded_below_by_retry_after() -> None:
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        d = backoff_delay(attempt, 1.0, 30.0, rng)
        assert ceiling / 2 <= d <= ceiling
    assert backoff_delay(1, 1.0, 30.0, rng, retry_after=12.0) == 12.0
    assert backoff_delay(1, 0.0, 0.0, rng, retry_after=None) == 0.0
