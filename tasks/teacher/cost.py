"""Spend of a run: a price table (model tokens, per-call search APIs), a ledger of the calls actually
sent in this run (memo hits cost nothing), and a run-level budget cap.

The cap is checked when a call is about to be *sent* (after it got its concurrency slot): once the
spend has reached the cap, ``check`` raises ``BudgetExhausted`` and nothing more goes out. Calls already
in flight still land and are charged, so the final spend can pass the cap by at most the cost of the
calls that were in flight (≤ concurrency limit × one call). The stage turns the exception into
"stopped: budget" and leaves the remaining items pending; a rerun with a higher cap finishes them, and
every call that had completed is served from the memo at no cost.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Mapping

from schemas.errors import ConfigError, PipelineError
from schemas.teacher import TeacherConfig, TokenPrice

log = logging.getLogger(__name__)


class BudgetExhausted(PipelineError):
    """The run's spend reached its cap; nothing more is sent. Items not done yet stay pending."""

    def __init__(self, spent_usd: float, budget_usd: float) -> None:
        super().__init__(f"stopped: budget (spent ${spent_usd:.4f} of ${budget_usd:.4f}); "
                         "rerun with a higher teacher.budget_usd to finish the remaining items")
        self.spent_usd = spent_usd
        self.budget_usd = budget_usd


class PriceTable:
    """Model and per-call prices. A model is priced by its exact name, else by the longest configured
    prefix (``gpt-4o`` prices ``gpt-4o-2024-08-06``; ``gpt-4o-mini`` wins over ``gpt-4o`` for its own)."""

    def __init__(self, tokens: Mapping[str, TokenPrice], calls: Mapping[str, float]) -> None:
        self.tokens = dict(tokens)
        self.calls = dict(calls)

    def token_price(self, model: str) -> TokenPrice | None:
        """The price of ``model`` (exact name, else longest prefix), or None."""
        if model in self.tokens:
            return self.tokens[model]
        prefixes = [name for name in self.tokens if model.startswith(name)]
        return self.tokens[max(prefixes, key=len)] if prefixes else None

    def token_cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Dollars for one completion, or None when the model has no price."""
        price = self.token_price(model)
        if price is None:
            return None
        return (prompt_tokens * price.input_per_mtok + completion_tokens * price.output_per_mtok) / 1_000_000

    def call_cost(self, api: str, n: int = 1) -> float | None:
        """Dollars for ``n`` calls of a per-call API (serper, jina, lens, ...), or None when unpriced."""
        price = self.calls.get(api)
        return None if price is None else price * n


class CostLedger:
    """Sums the spend of calls sent in this run and enforces the budget cap.

    Thread-safe (search adapters may charge from worker threads); the teacher client charges from its
    event loop.
    """

    def __init__(self, prices: PriceTable, budget_usd: float | None = None) -> None:
        self.prices = prices
        self.budget_usd = budget_usd
        self._spent = 0.0
        self._by_item: dict[str, float] = defaultdict(float)
        self._calls: dict[str, int] = defaultdict(int)
        self._unpriced: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: TeacherConfig) -> CostLedger:
        """A ledger with the config's prices and budget cap."""
        return cls(PriceTable(config.prices, config.call_prices), config.budget_usd)

    @property
    def spent_usd(self) -> float:
        """Dollars charged so far in this run."""
        with self._lock:
            return self._spent

    def breakdown(self) -> dict[str, tuple[int, float]]:
        """``{model or api: (calls, dollars)}`` for the run summary."""
        with self._lock:
            return {k: (self._calls[k], self._by_item[k]) for k in sorted(self._calls)}

    def require_priced(self, *, models: tuple[str, ...] = (), apis: tuple[str, ...] = ()) -> None:
        """With a budget cap, every model and API the run will call needs a price (else the cap could
        not be enforced). Call at stage start.

        Raises:
            ConfigError: naming each unpriced model or API.
        """
        if self.budget_usd is None:
            return
        missing = [m for m in models if self.prices.token_price(m) is None]
        missing += [a for a in apis if self.prices.call_cost(a) is None]
        if missing:
            raise ConfigError(f"teacher.budget_usd is set but these have no price: {', '.join(missing)}; "
                              "add them to teacher.prices / teacher.call_prices")

    def check(self) -> None:
        """Raise ``BudgetExhausted`` when the spend has reached the cap (call before sending)."""
        if self.budget_usd is None:
            return
        spent = self.spent_usd
        if spent >= self.budget_usd:
            raise BudgetExhausted(spent, self.budget_usd)

    def charge_tokens(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        """Record one completion that was sent; returns its cost (0 for an unpriced model)."""
        cost = self.prices.token_cost(model, prompt_tokens, completion_tokens)
        return self._charge(model, cost)

    def charge_call(self, api: str, n: int = 1) -> float:
        """Record ``n`` calls of a per-call API that were sent; returns their cost."""
        return self._charge(api, self.prices.call_cost(api, n), n)

    def _charge(self, item: str, cost: float | None, n: int = 1) -> float:
        with self._lock:
            if cost is None and item not in self._unpriced:
                self._unpriced.add(item)
                log.warning("no price for %s; its calls are counted at $0", item)
            amount = cost or 0.0
            self._spent += amount
            self._by_item[item] += amount
            self._calls[item] += n
            return amount
