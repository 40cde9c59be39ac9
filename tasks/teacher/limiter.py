"""Adaptive per-endpoint concurrency: additive increase, multiplicative decrease (AIMD).

``AimdLimit`` is the pure state machine (clock injected, no asyncio): at most ``limit`` requests in
flight; a 429 halves the limit (never below 1) and, with a ``Retry-After``, pauses the whole endpoint
until then; ``grow_after`` successes in a row add one, up to ``maximum``. A burst of 429s from requests
that were all sent under the old limit halves it once, not once per response (each ticket carries the
epoch it was issued in; only a 429 from the current epoch shrinks the limit) — otherwise 64 requests in
flight meeting one overload would collapse the limit to 1.

``EndpointLimiter`` puts the state behind ``async`` acquire/release for one event loop. Share one
instance between the clients that call the same endpoint (teacher, solvers and judges on one server).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"                  # a completion came back
    THROTTLED = "throttled"    # HTTP 429
    ERROR = "error"            # any other failure: not a congestion signal, the limit stays


@dataclass(frozen=True, slots=True)
class Ticket:
    """Proof of one slot; ``epoch`` is the limit's epoch when it was issued."""

    epoch: int


class AimdLimit:
    """The AIMD state of one endpoint. Not thread-safe; one event loop (or one thread) owns it."""

    def __init__(self, initial: int, maximum: int, *, grow_after: int = 16,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not 1 <= initial <= maximum:
            raise ValueError(f"need 1 <= initial ({initial}) <= maximum ({maximum})")
        if grow_after < 1:
            raise ValueError("grow_after must be >= 1")
        self.limit = initial
        self.maximum = maximum
        self.grow_after = grow_after
        self.in_flight = 0
        self.epoch = 0
        self.streak = 0
        self.pause_until = float("-inf")
        self._clock = clock

    def paused_for(self) -> float:
        """Seconds until the endpoint may be called again (0 when not paused)."""
        return max(0.0, self.pause_until - self._clock())

    def try_acquire(self) -> Ticket | None:
        """A slot if one is free and the endpoint is not paused, else None."""
        if self.paused_for() > 0 or self.in_flight >= self.limit:
            return None
        self.in_flight += 1
        return Ticket(self.epoch)

    def release(self, ticket: Ticket, outcome: Outcome, retry_after: float | None = None) -> None:
        """Give the slot back and adapt the limit to how the request went."""
        self.in_flight = max(0, self.in_flight - 1)
        if outcome is Outcome.OK:
            self.streak += 1
            if self.streak >= self.grow_after:
                self.streak = 0
                if self.limit < self.maximum:
                    self.limit += 1
        elif outcome is Outcome.THROTTLED:
            self.streak = 0
            if retry_after is not None and retry_after > 0:
                self.pause_until = max(self.pause_until, self._clock() + retry_after)
            if ticket.epoch == self.epoch:
                self.limit = max(1, self.limit // 2)
                self.epoch += 1


class EndpointLimiter:
    """``AimdLimit`` for coroutines: ``acquire`` waits for a free slot and for any pause to end."""

    def __init__(self, state: AimdLimit) -> None:
        self.state = state
        self._waiters: deque[asyncio.Future[None]] = deque()

    @classmethod
    def create(cls, initial: int, maximum: int, grow_after: int = 16) -> EndpointLimiter:
        """A limiter over a fresh ``AimdLimit`` on the monotonic clock."""
        return cls(AimdLimit(initial, maximum, grow_after=grow_after))

    async def acquire(self) -> Ticket:
        """Wait for a slot (FIFO among waiters) and return its ticket."""
        while True:
            pause = self.state.paused_for()
            if pause > 0:
                await asyncio.sleep(pause)
                continue
            ticket = self.state.try_acquire()
            if ticket is not None:
                return ticket
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled before taking the slot: hand the wake-up on
                raise

    def release(self, ticket: Ticket, outcome: Outcome, retry_after: float | None = None) -> None:
        """Return the slot, adapt the limit and wake as many waiters as there are free slots."""
        self.state.release(ticket, outcome, retry_after)
        self._wake()

    def _wake(self) -> None:
        free = max(1, self.state.limit - self.state.in_flight)
        while free and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                free -= 1
