import random

import numpy as np
import pytest
import torch

import stochlearn as sl
from stochlearn.runtime import resolve_profile


def test_profile_argument_env_and_default(monkeypatch):
    monkeypatch.delenv("STOCHLEARN_PROFILE", raising=False)
    assert resolve_profile(None) == "book"
    monkeypatch.setenv("STOCHLEARN_PROFILE", "quick")
    assert resolve_profile(None) == "quick"
    assert resolve_profile("full") == "full"  # the argument wins over the environment
    assert sl.setup(seed=1).profile == "quick"


def test_unknown_profile_names_the_valid_ones(monkeypatch):
    with pytest.raises(ValueError, match=r"'quick', 'book', 'full'"):
        sl.setup(profile="fast")
    monkeypatch.setenv("STOCHLEARN_PROFILE", "paper")
    with pytest.raises(ValueError, match="STOCHLEARN_PROFILE"):
        sl.setup()


def test_pick_returns_the_active_profiles_value():
    for prof, expected in [("quick", 1), ("book", 2), ("full", 3)]:
        run = sl.setup(profile=prof, device="cpu")
        assert run.pick(quick=1, book=2, full=3) == expected
    with pytest.raises(TypeError):
        run.pick(quick=1, book=2)  # every profile must be given


def test_paper_scale_cell_runs_at_quick_and_full_only():
    assert [sl.setup(profile=p).runs_paper_scale for p in ("quick", "book", "full")] == [True, False, True]


def test_setup_seeds_python_numpy_and_torch():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    sl.setup(profile="quick", seed=7)
    a = draw()
    sl.setup(profile="quick", seed=7)
    b = draw()
    sl.setup(profile="quick", seed=8)
    c = draw()
    assert a == b
    assert all(x != y for x, y in zip(a, c))


def test_run_generators_are_local_and_reproducible():
    run = sl.setup(profile="quick", seed=3)
    x = torch.rand(3, generator=run.generator())
    torch.rand(100)  # global draws do not disturb a local generator
    assert torch.equal(x, torch.rand(3, generator=run.generator()))
    assert not torch.equal(x, torch.rand(3, generator=run.generator(1)))
    assert run.rng(2).integers(1 << 30) == run.rng(2).integers(1 << 30)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, 2**32])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        sl.setup(profile="quick", seed=seed)


def test_threads(monkeypatch):
    monkeypatch.delenv("STOCHLEARN_THREADS", raising=False)
    run = sl.setup(profile="quick")
    assert run.threads == 1 and torch.get_num_threads() == 1
    assert sl.setup(profile="book").threads == 1
    monkeypatch.setenv("STOCHLEARN_THREADS", "2")
    assert sl.setup(profile="quick").threads == 2
    monkeypatch.setenv("STOCHLEARN_THREADS", "zero")
    with pytest.raises(ValueError, match="STOCHLEARN_THREADS"):
        sl.setup(profile="quick")


def test_device_defaults_to_cpu_and_falls_back(monkeypatch):
    monkeypatch.delenv("STOCHLEARN_DEVICE", raising=False)
    assert sl.setup(profile="book").device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            assert sl.setup(profile="book", device="cuda").device.type == "cpu"
        assert sl.setup(profile="full").device.type == "cpu"
    with pytest.raises(ValueError, match="device"):
        sl.setup(profile="book", device="tpu9")


def test_quiet_follows_ci_and_env(monkeypatch):
    monkeypatch.delenv("STOCHLEARN_QUIET", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert not sl.quiet()
    monkeypatch.setenv("CI", "true")
    assert sl.quiet()
    monkeypatch.setenv("STOCHLEARN_QUIET", "0")
    assert not sl.quiet()


def test_setup_applies_the_plot_style():
    import matplotlib

    matplotlib.rcParams["figure.facecolor"] = "none"
    sl.setup(profile="quick")
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.transparent"] is False


def test_topic_modules_load_lazily():
    import importlib
    import subprocess
    import sys

    code = (
        "import sys, stochlearn as sl; assert 'stochlearn.optim' not in sys.modules; "
        "sl.optim.DiffGrad; assert 'stochlearn.optim' in sys.modules; print(sorted(dir(sl))[:3])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        importlib.import_module("stochlearn").nope
