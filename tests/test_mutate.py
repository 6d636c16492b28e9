"""The mutation tool: source mutations, and how a mutated claim's miss is judged."""

import math

import pytest
import torch

import stochlearn as sl
from tools.mutate import CLEAR, judge, judge_condition, mutation_cell, problems


def _cond(value, op=">=", threshold=1.0, name="x"):
    c = sl.claims.Condition(name, value, op, threshold)
    return c.as_dict()


def test_a_clear_and_a_narrow_miss():
    correct = _cond(2.0)  # passes by 1
    clear = judge_condition(correct, _cond(0.0))  # misses by 1 of a separation of 2
    assert clear["clear"] and clear["miss"] == pytest.approx(1.0) and clear["separation"] == pytest.approx(2.0)
    narrow = judge_condition(correct, _cond(1.0 - 0.1 * CLEAR))  # a hair below the threshold
    assert not narrow["clear"] and narrow["miss"] > 0


def test_a_strict_comparison_missed_at_equality_is_narrow():
    v = judge_condition(_cond(0.4, ">", 0.0), _cond(0.0, ">", 0.0))
    assert v["miss"] == 0 and not v["clear"]


def test_a_nan_is_a_clear_miss():
    v = judge_condition(_cond(2.0), _cond(math.nan))
    assert v["clear"] and v["mutated"] is None


def test_an_infinity_written_as_a_string_is_a_clear_miss():
    mutated = {**_cond(math.inf, "<=", 1e-9), "value": "inf", "margin": "-inf"}
    v = judge_condition(_cond(0.0, "<=", 1e-9), mutated)
    assert v["clear"] and v["miss"] == math.inf


def test_claim_verdicts():
    ok = {"claim": "C1 x", "passed": True, "conditions": [_cond(2.0), _cond(3.0)]}
    one_clear = {"claim": "C1 x", "passed": False, "conditions": [_cond(2.0), _cond(-1.0)]}
    holds = {"claim": "C1 x", "passed": True, "conditions": [_cond(1.5), _cond(3.0)]}
    bare = {"claim": "C1 x", "passed": False, "conditions": []}
    assert judge(ok, one_clear)["verdict"] == "clear"
    assert judge(ok, holds)["verdict"] == "holds"
    assert judge({**ok, "conditions": []}, bare)["verdict"] == "unjudged"
    rep = {
        "correct": {"error": None},
        "mutations": [{"name": "m", "claims": [holds], "error": None, "verdicts": [judge(ok, holds)]}],
    }
    assert problems(rep) == ["m: C1 holds"]


def test_a_source_mutation_replaces_a_method_and_can_be_undone():
    step = sl.optim.DiffGrad.step
    cell = mutation_cell(
        {
            "name": "no bias correction of m̂",
            "replace": {
                "in": "sl.optim.DiffGrad.step",
                "old": 'value=-group["lr"] / bias1',
                "new": 'value=-group["lr"]',
            },
        }
    )
    p = torch.zeros(1, requires_grad=True)
    try:
        exec(cell, {"sl": sl})
        assert sl.optim.DiffGrad.step is not step
        opt = sl.optim.DiffGrad([p], lr=0.1)
        p.grad = torch.ones(1)
        opt.step()
        # first step: ξ = sigmoid(1), m = 0.1 g, no 1/(1 − β1) = 10: a tenth of the correct step
        expected = -0.1 * torch.sigmoid(torch.tensor(1.0)) * 0.1 / (1 + 1e-8)
        assert float(p.detach()) == pytest.approx(float(expected), rel=1e-5)
        assert 'value=-group["lr"])' in repr(sl.show(sl.optim.DiffGrad.step))  # readers see the mutant
    finally:
        sl.optim.DiffGrad.step = step


def test_a_stale_source_mutation_fails_loudly():
    cell = mutation_cell(
        {"name": "stale", "replace": {"in": "sl.optim.DiffGrad.step", "old": "no such text", "new": ""}}
    )
    step = sl.optim.DiffGrad.step
    try:
        with pytest.raises(AssertionError, match="expects 'no such text' once"):
            exec(cell, {"sl": sl})
    finally:
        sl.optim.DiffGrad.step = step


def test_a_code_mutation_is_inserted_as_it_is():
    assert mutation_cell({"name": "n", "code": "x = 1"}) == "# mutation: n\nx = 1"


def test_the_status_page_shows_the_margins():
    from tools.status import mutation_table

    correct = {"claim": "C1 gap", "passed": True, "conditions": [_cond(2.0)]}
    caught = {"claim": "C1 gap", "passed": False, "conditions": [_cond(0.0)]}
    rep = {
        "profile": "book",
        "seed": 0,
        "finished": "2026-12-04T00:00:00Z",
        "clear_fraction": CLEAR,
        "mutations": [
            {"name": "no | method", "claims": [caught], "error": None, "verdicts": [judge(correct, caught)]},
            {"name": "crash", "claims": [], "error": "RuntimeError: boom", "verdicts": []},
        ],
    }
    table = "\n".join(mutation_table(rep))
    assert "| no \\| method | C1 | x | 2 | ≥ 1 | 0 | misses clearly |" in table
    holds = {"claim": "C1 gap", "passed": True, "conditions": [_cond(1.5)]}
    rep["mutations"][0] = {"name": "weak", "claims": [holds], "error": None, "verdicts": [judge(correct, holds)]}
    assert "| weak | C1 | x | 2 | ≥ 1 | 1.5 | ⚠ holds (claim holds) |" in "\n".join(mutation_table(rep))
    assert "crashed: `RuntimeError: boom`" in table
