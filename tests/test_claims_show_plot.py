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
    assert c.to_json() == [
        {"claim": "one is one", "passed": True, "detail": "1 == 1"},
        {"claim": "numpy bools count", "passed": True, "detail": "0.1 < 0.2"},
        {"claim": "two is three", "passed": False, "detail": "2 != 3"},
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
    (bundle, kw), = shown
    assert kw["raw"] is True
    assert bundle[CLAIMS_MIME] == [{"claim": "a <b> claim", "passed": True, "detail": "x & y"}]
    assert "&lt;b&gt;" in bundle["text/html"]  # escaped
    assert kw["metadata"][CLAIMS_MIME] == {"profile": "quick", "seed": 4}


@pytest.mark.parametrize("claim,passed,detail", [("", True, ""), ("x", "yes", ""), ("x", True, 3),
                                                  ("x", np.array([True, False]), ""), ("x", 0.5, "")])
def test_check_rejects_bad_arguments(claim, passed, detail):
    with pytest.raises(ValueError):
        sl.Claims().check(claim, passed, detail)


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
