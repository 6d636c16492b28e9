import json

import numpy as np
import pytest
import torch

import stochlearn as sl
from stochlearn.claims import CLAIMS_MIME


def test_report_publishes_json_and_raises_on_failure(capsys):
    run = sl.setup(profile="quick", seed=0)
    c = sl.Claims(run)
    assert c.check("one is one", 1 == 1, "1 == 1") is True
    assert c.check("numpy bools count", np.float64(0.1) < 0.2, "0.1 < 0.2")
    assert c.check("two is three", torch.tensor(2) == 3, "2 != 3") is False
    plain = {"conditions": [], "smoke": False}
    assert c.to_json() == [
        {"claim": "one is one", "passed": True, "detail": "1 == 1", **plain},
        {"claim": "numpy bools count", "passed": True, "detail": "0.1 < 0.2", **plain},
        {"claim": "two is three", "passed": False, "detail": "2 != 3", **plain},
    ]
    json.dumps(c.to_json())  # the payload is plain JSON
    with pytest.raises(AssertionError, match="two is three") as err:
        c.report()
    assert "one is one" not in str(err.value)  # only failed claims are named
    out = capsys.readouterr().out
    assert "✓ one is one" in out and "✗ two is three" in out and "2/3 claims hold" in out


def test_report_passes_silently_when_all_hold():
    c = sl.Claims()
    c.check("fine", True)
    c.report()
    assert "✓" in c.to_html() and "✗" not in c.to_html()


def test_report_in_ipython_displays_the_mime_bundle(monkeypatch):
    shown = []
    import IPython
    import IPython.display

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    c = sl.Claims(sl.setup(profile="quick", seed=4))
    c.check("a <b> claim", True, "x & y")
    c.report()
    ((bundle, kw),) = shown
    assert kw["raw"] is True
    assert bundle[CLAIMS_MIME] == [
        {"claim": "a <b> claim", "passed": True, "detail": "x & y", "conditions": [], "smoke": False}
    ]
    assert "&lt;b&gt;" in bundle["text/html"]  # escaped
    assert kw["metadata"][CLAIMS_MIME] == {"profile": "quick", "seed": 4}


@pytest.mark.parametrize(
    "claim,passed,detail",
    [("", True, ""), ("x", "yes", ""), ("x", True, 3), ("x", np.array([True, False]), ""), ("x", 0.5, "")],
)
def test_check_rejects_bad_arguments(claim, passed, detail):
    with pytest.raises(ValueError):
        sl.Claims().check(claim, passed, detail)


def test_conditions_compare_measure_and_render():
    c = sl.Claims()
    assert c.check(
        "C1 two conditions",
        c.at_least("gap [pp]", 4.88, 1.0),
        c.between("θ", np.float64(-0.3), -0.35, -0.25, fmt="+.2f"),
        detail="10 seeds",
    )
    (r,) = c.to_json()
    assert r["detail"] == "gap [pp] = 4.88 ≥ 1; θ = -0.30 ∈ [-0.35, -0.25] · 10 seeds"
    gap, theta = r["conditions"]
    assert gap == {
        "name": "gap [pp]",
        "value": 4.88,
        "op": ">=",
        "threshold": 1.0,
        "passed": True,
        "margin": pytest.approx(3.88),
        "text": "gap [pp] = 4.88 ≥ 1",
    }
    assert theta["margin"] == pytest.approx(0.05) and theta["threshold"] == [-0.35, -0.25]
    assert "<code>gap [pp] = 4.88 ≥ 1</code>" in c.to_html()
    json.dumps(c.to_json(), allow_nan=False)


@pytest.mark.parametrize(
    "cond,passed,margin",
    [
        (sl.Claims.at_least("x", 1.0, 1.0), True, 0.0),
        (sl.Claims.above("x", 1.0, 1.0), False, 0.0),
        (sl.Claims.at_most("x", 0.5, 1.0), True, 0.5),
        (sl.Claims.below("x", torch.tensor(2.0), 1.0), False, -1.0),
        (sl.Claims.between("x", 3, 0, 2), False, -1.0),
        (sl.Claims.equals("x", 0.0, 0.0), True, 0.0),
        (sl.Claims.equals("x", 0.25, 0.0), False, -0.25),
    ],
)
def test_condition_margins(cond, passed, margin):
    assert cond.passed is passed and cond.margin == pytest.approx(margin)


def test_a_nan_never_holds_and_stays_valid_json():
    c = sl.Claims()
    assert not c.check("C1 nan", c.at_most("loss", float("nan"), 1.0))
    (cond,) = c.to_json()[0]["conditions"]
    assert cond["value"] is None and cond["margin"] is None and cond["passed"] is False
    json.dumps(c.to_json(), allow_nan=False)


def test_one_claim_fails_when_any_condition_fails():
    c = sl.Claims()
    assert not c.check("C1", c.at_least("a", 2, 1), c.at_least("b", 0, 1))
    with pytest.raises(AssertionError, match="b = 0 ≥ 1"):
        c.report()


def test_smoke_claims_say_so():
    c = sl.Claims()
    c.check("C4 finite at quick", c.below("blur", 3.0, float("inf")), smoke=True)
    assert c.to_json()[0]["smoke"] is True
    assert "smoke test" in c.to_text() and "smoke test" in c.to_html()


@pytest.mark.parametrize(
    "make",
    [
        lambda: sl.Claims.at_least("", 1, 0),
        lambda: sl.Claims.at_least("x", True, 0),
        lambda: sl.Claims.at_least("x", "1", 0),
        lambda: sl.Claims.at_least("x", np.ones(2), 0),
        lambda: sl.Claims.between("x", 1, 2, 0),
        lambda: sl.Claims.at_least("x", 1, 0, fmt="q"),
        lambda: sl.claims.Condition("x", 1.0, "!=", 0.0),
        lambda: sl.Claims().check("C1", sl.Claims.at_least("x", 1, 0), True),
        lambda: sl.Claims().check("C1"),
        lambda: sl.Claims().check("C1", True, "a", detail="b"),
        lambda: sl.Claims().check("C1", True, smoke="yes"),
    ],
)
def test_conditions_reject_bad_arguments(make):
    with pytest.raises(ValueError):
        make()


def test_report_without_checks_is_an_error():
    with pytest.raises(ValueError, match="no claims"):
        sl.Claims().report()


def test_show_renders_the_library_source():
    src = sl.show(sl.optim.DiffGrad)
    md = src._repr_markdown_()
    assert md.count("```python") == 1
    assert "class DiffGrad(torch.optim.Optimizer)" in md
    assert "stochlearn/optim/diffgrad.py" in md
    import inspect

    lines, start = inspect.getsourcelines(sl.optim.DiffGrad)
    assert f"lines {start}–{start + len(lines) - 1}" in md
    assert "def diffgrad_friction" in repr(sl.show(sl.optim.diffgrad_friction))


def test_show_rejects_instances_and_builtins():
    with pytest.raises(ValueError, match="expects a class"):
        sl.show(3)
    with pytest.raises(ValueError):
        sl.show(len)


def test_palette_and_style():
    import matplotlib
    import matplotlib.pyplot as plt

    sl.plot.use_style()
    assert matplotlib.rcParams["axes.facecolor"] == "white"
    w, h = matplotlib.rcParams["figure.figsize"]
    assert w * matplotlib.rcParams["figure.dpi"] <= 800  # fits the book column
    pal = sl.plot.palette(4)
    assert len(pal) == 4 and len(set(pal)) == 4
    fig, axes = plt.subplots(1, 2)
    sl.plot.label_panels(axes)
    assert axes[1].texts[0].get_text() == "(b)"
    plt.close(fig)
    with pytest.raises(ValueError):
        sl.plot.palette(0)


def test_exercise_check_messages(capsys):
    from stochlearn.exercises import ExerciseCheckFailed, ExerciseNotDone, check

    check("one is one", lambda: 1 == 1)
    assert "✓ one is one" in capsys.readouterr().out
    with pytest.raises(ExerciseCheckFailed, match="✗ two is three. look again"):
        check("two is three", lambda: 2 == 3, hint="look again")
    with pytest.raises(ExerciseNotDone, match="Complete and run the exercise cell above"):
        check("undefined", lambda: undefined_name_xyz)  # noqa: F821
    with pytest.raises(ExerciseCheckFailed, match="raised ZeroDivisionError"):
        check("crash", lambda: 1 / 0)

    def stub():
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check("stub", stub)
    assert "not done yet" in capsys.readouterr().out
