"""Price table, cost ledger and budget cap; the teacher config's validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schemas.errors import ConfigError
from schemas.teacher import TeacherConfig, TokenPrice
from tasks.teacher.cost import BudgetExhausted, CostLedger, PriceTable

PRICES = {"gpt-4o": TokenPrice(input_per_mtok=2.5, output_per_mtok=10.0),
          "gpt-4o-mini": TokenPrice(input_per_mtok=0.15, output_per_mtok=0.6)}


def test_token_cost_by_exact_name_then_longest_prefix() -> None:
    table = PriceTable(PRICES, {})
    assert table.token_cost("gpt-4o", 1_000_000, 100_000) == pytest.approx(2.5 + 1.0)
    assert table.token_cost("gpt-4o-2024-08-06", 1_000_000, 0) == pytest.approx(2.5)
    assert table.token_cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert table.token_cost("qwen3-vl", 10, 10) is None


def test_per_call_prices_for_search_apis() -> None:
    table = PriceTable({}, {"serper": 0.001, "lens": 0.015})
    assert table.call_cost("serper", 3) == pytest.approx(0.003)
    assert table.call_cost("jina") is None


def test_ledger_sums_spend_and_breaks_it_down() -> None:
    ledger = CostLedger(PriceTable(PRICES, {"serper": 0.001}))
    assert ledger.charge_tokens("gpt-4o", 1000, 500) == pytest.approx(0.0025 + 0.005)
    ledger.charge_call("serper", 2)
    assert ledger.charge_tokens("local-model", 1000, 1000) == 0.0          # unpriced: counted at $0
    assert ledger.spent_usd == pytest.approx(0.0095)
    assert ledger.breakdown() == {"gpt-4o": (1, pytest.approx(0.0075)), "local-model": (1, 0.0),
                                  "serper": (2, pytest.approx(0.002))}


def test_budget_cap_raises_once_spend_reaches_it() -> None:
    ledger = CostLedger(PriceTable(PRICES, {}), budget_usd=0.01)
    ledger.check()
    ledger.charge_tokens("gpt-4o", 2000, 0)                                 # $0.005
    ledger.check()
    ledger.charge_tokens("gpt-4o", 2000, 0)                                 # $0.010 = cap
    with pytest.raises(BudgetExhausted, match="stopped: budget") as info:
        ledger.check()
    assert info.value.spent_usd == pytest.approx(0.01) and info.value.budget_usd == 0.01


def test_no_cap_never_stops() -> None:
    ledger = CostLedger(PriceTable(PRICES, {}))
    ledger.charge_tokens("gpt-4o", 10**9, 10**9)
    ledger.check()


def test_a_cap_needs_every_model_and_api_priced() -> None:
    ledger = CostLedger(PriceTable(PRICES, {"serper": 0.001}), budget_usd=1.0)
    ledger.require_priced(models=("gpt-4o-mini",), apis=("serper",))
    with pytest.raises(ConfigError, match="qwen3-vl, lens"):
        ledger.require_priced(models=("gpt-4o", "qwen3-vl"), apis=("lens",))
    CostLedger(PriceTable({}, {})).require_priced(models=("anything",))    # no cap: nothing to enforce


def test_ledger_from_config() -> None:
    cfg = TeacherConfig(model="gpt-4o", budget_usd=2.0, prices=PRICES, call_prices={"serper": 0.001})
    ledger = CostLedger.from_config(cfg)
    assert ledger.budget_usd == 2.0 and ledger.prices.call_cost("serper") == 0.001


def test_teacher_config_validation() -> None:
    assert TeacherConfig().offline
    assert not TeacherConfig(model="gpt-4o").offline
    with pytest.raises(ValidationError, match="initial"):
        TeacherConfig.model_validate({"concurrency": {"initial": 65, "max": 64}})
    with pytest.raises(ValidationError, match="extra"):
        TeacherConfig.model_validate({"base_url": "http://x"})              # URLs come from settings
    with pytest.raises(ValidationError):
        TeacherConfig(budget_usd=0)
    with pytest.raises(ValidationError, match="call_prices"):
        TeacherConfig(call_prices={"serper": -1.0})
