"""The budget ledger is a hard daily limit that survives crashes and never charges twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conscious.budget import BudgetExhausted, BudgetLedger, Usage

DAY = 1_763_700_000.0  # 2025-11-21 04:40 UTC


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_billable_tokens_weigh_cache_writes_and_reads_as_the_api_prices_them() -> None:
    usage = Usage(input_tokens=100, output_tokens=50, cache_creation_input_tokens=1000,
                  cache_read_input_tokens=1000)
    assert 100 + 50 + 1250 + 100 == usage.billable


def test_a_charge_replaces_the_reservation(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "budget.json", clock=Clock(DAY))
    ledger.reserve("call-1", 5000, budget=10_000)
    assert (0, 5000) == (ledger.today().tokens, ledger.today().reserved)
    assert ledger.charge("call-1", Usage(input_tokens=1200, output_tokens=300))
    assert (1500, 0, 1) == (ledger.today().tokens, ledger.today().reserved, ledger.today().calls)


def test_charging_the_same_request_twice_counts_once(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "budget.json", clock=Clock(DAY))
    ledger.reserve("call-1", 100, budget=10_000)
    assert ledger.charge("call-1", Usage(input_tokens=80))
    assert not ledger.charge("call-1", Usage(input_tokens=80))
    assert 80 == ledger.today().tokens


def test_a_call_that_could_pass_the_budget_is_refused(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "budget.json", clock=Clock(DAY))
    ledger.reserve("call-1", 100, budget=1000)
    ledger.charge("call-1", Usage(input_tokens=700))
    with pytest.raises(BudgetExhausted, match="700 used"):
        ledger.reserve("call-2", 400, budget=1000)
    ledger.reserve("call-3", 300, budget=1000)  # exactly what is left is allowed


def test_the_budget_resets_on_the_next_utc_day(tmp_path: Path) -> None:
    clock = Clock(DAY)
    ledger = BudgetLedger(tmp_path / "budget.json", clock=clock)
    ledger.reserve("call-1", 100, budget=1000)
    ledger.charge("call-1", Usage(input_tokens=1000))
    clock.now += 86400
    ledger.reserve("call-2", 900, budget=1000)
    assert [1000, 0] == [day.tokens for day in ledger.history()]


def test_a_crash_between_call_and_charge_is_settled_at_the_reserved_amount(tmp_path: Path) -> None:
    clock = Clock(DAY)
    ledger = BudgetLedger(tmp_path / "budget.json", clock=clock)
    ledger.reserve("crashed-call", 4000, budget=10_000)
    clock.now += 4000
    reopened = BudgetLedger(tmp_path / "budget.json", clock=clock)
    assert 1 == reopened.settle_stale()
    assert (4000, 0) == (reopened.today().tokens, reopened.today().reserved)


def test_a_released_reservation_costs_nothing(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "budget.json", clock=Clock(DAY))
    ledger.reserve("failed-call", 4000, budget=10_000)
    ledger.release("failed-call")
    assert (0, 0) == (ledger.today().tokens, ledger.today().reserved)


def test_the_change_cap_counts_each_proposal_once(tmp_path: Path) -> None:
    ledger = BudgetLedger(tmp_path / "budget.json", clock=Clock(DAY))
    ledger.count_change("p1", cap=2)
    ledger.count_change("p1", cap=2)
    ledger.count_change("p2", cap=2)
    with pytest.raises(BudgetExhausted, match="2 of 2"):
        ledger.count_change("p3", cap=2)
    assert 2 == ledger.today().changes


def test_an_unreadable_ledger_refuses_calls_instead_of_forgetting_spend(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    path.write_text("{torn", encoding="utf-8")
    with pytest.raises(BudgetExhausted, match="unreadable"):
        BudgetLedger(path, clock=Clock(DAY)).reserve("call", 1, budget=10)


@pytest.mark.parametrize("day", [["not", "a", "day"], {"charges": "none", "reservations": {},
                                                         "changes": []}])
def test_a_ledger_day_of_the_wrong_shape_refuses_calls_and_names_the_day(
        tmp_path: Path, day: object) -> None:
    path = tmp_path / "budget.json"
    path.write_text(json.dumps({"days": {"2025-11-20": day}}), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(BudgetExhausted, match="day '2025-11-20' has an unexpected shape"):
        BudgetLedger(path, clock=Clock(DAY)).reserve("call", 1, budget=10)
    with pytest.raises(BudgetExhausted, match="2025-11-20"):
        BudgetLedger(path, clock=Clock(DAY)).today()
    assert before == path.read_bytes()


def test_the_ledger_file_is_json_that_survives_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "budget.json"
    BudgetLedger(path, clock=Clock(DAY)).reserve("call-1", 10, budget=100)
    BudgetLedger(path, clock=Clock(DAY)).charge("call-1", Usage(output_tokens=7))
    data = json.loads(path.read_text(encoding="utf-8"))
    assert {"call-1"} == set(data["days"]["2025-11-21"]["charges"])
