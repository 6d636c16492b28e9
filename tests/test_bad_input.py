"""Malformed input: every public stochlearn function gives a clear error or a correct result.

Hypothesis calls each public function and class of the library with malformed arguments (wrong
types, NaN and infinite numbers, negative sizes, tensors of the wrong shape or dtype, empty
tensors). Acceptable outcomes: a normal return without a NaN that the input did not contain, or a
ValueError / TypeError (or FileNotFoundError) raised by stochlearn's own code (or by Python when the call itself does
not fit the signature). A crash deep inside torch or numpy, or any other exception, fails.
"""

from __future__ import annotations

import importlib
import inspect
import math
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import stochlearn

PKG = Path(stochlearn.__file__).parent
# Functions that are exercised by their own tests rather than fuzzed, and why.
#: Functions whose documented result for some valid inputs is NaN, and what it means there.
NAN_MEANS = {
    "stochlearn.stats.crossing_point": "the curve never reaches the level (tests/test_regimes.py checks it)",
    "stochlearn.metrics.compare_growth_fits": "no power law is fitted to a d that is not positive",
}

SKIP = {
    "stochlearn.data.download": "opens URLs (tested on local files in test_train_data_nn.py)",
    "stochlearn.data.cifar10": "reads or downloads a dataset (tested on a small archive)",
    "stochlearn.runtime.setup": "changes global state (threads, seeds); tested in test_runtime.py",
    "stochlearn.runtime.seed_everything": "changes global state; tested in test_runtime.py",
    "stochlearn.runtime.progress": "wraps any iterable (tqdm's own checks apply)",
    "stochlearn.plot.use_style": "takes no arguments",
    "stochlearn.plot.label_panels": "draws on matplotlib axes",
    "stochlearn.criticality.sample_preactivations": "valid sizes of 10^3-10^4 per argument mean up to 10^12 "
    "draws; its argument checks are tested in test_criticality.py",
}


def _public_callables():
    found = {}
    for name in ("runtime", "claims", "show", *stochlearn.SUBMODULES):
        if not ((PKG / f"{name}.py").exists() or (PKG / name).is_dir()):
            continue
        module = importlib.import_module(f"stochlearn.{name}")
        names = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        # a package's public submodules (stochlearn.data.slabs) are fuzzed too
        members = [(attr, getattr(module, attr, None)) for attr in names]
        for attr, sub in list(members):
            if inspect.ismodule(sub) and sub.__name__.startswith("stochlearn."):
                members += [(a, getattr(sub, a, None)) for a in getattr(sub, "__all__", [])]
        for attr, obj in members:
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("stochlearn"):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            qual = f"{obj.__module__.rsplit('.', 1)[0] if obj.__module__.count('.') > 1 else obj.__module__}.{attr}"
            key = f"stochlearn.{name}.{attr}"
            if key in SKIP or qual in SKIP:
                continue
            found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


CALLABLES = _public_callables()


@pytest.fixture(scope="module", autouse=True)
def _memory_cap():
    """A runaway allocation fails this test with MemoryError instead of taking the machine down."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (12 * 2**30, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


junk_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(10**3, 10**4),
    st.sampled_from([-(10**9)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-2, 5), max_size=3),
)


@st.composite
def junk_tensor(draw):
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=4))
    dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.bool]))
    t = torch.zeros(shape, dtype=dtype) if dtype == torch.bool else (torch.randn(shape) * 3).to(dtype)
    if dtype.is_floating_point and t.numel() and draw(st.booleans()):
        t.view(-1)[0] = float("nan")
    return t


junk = st.one_of(junk_scalar, junk_tensor(), st.builds(lambda: np.array([np.nan, 1.0])))


def _has_nan(x) -> bool:
    if isinstance(x, torch.Tensor):
        return x.is_floating_point() and bool(torch.isnan(x).any())
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f" and bool(np.isnan(x).any())
    if isinstance(x, float):
        return math.isnan(x)
    if isinstance(x, (tuple, list)):
        return any(_has_nan(v) for v in x)
    if isinstance(x, dict):
        return any(_has_nan(v) for v in x.values())
    return False


def _raised_in_stochlearn(err: BaseException) -> bool:
    frames = traceback.extract_tb(err.__traceback__)
    last = frames[-1].filename if frames else ""
    return str(PKG) in last or len(frames) <= 1  # the raise itself, or the call not fitting the signature


def _required(obj) -> list[inspect.Parameter]:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    return [
        p
        for p in sig.parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


@pytest.mark.parametrize("name", sorted(CALLABLES))
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,  # the same examples in every CI run
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_malformed_input_gives_a_clear_error_or_a_correct_result(name, data):
    obj = CALLABLES[name]
    params = _required(obj)
    args = [data.draw(junk, label=p.name) for p in params]
    try:
        result = obj(*args)
    except (ValueError, TypeError, FileNotFoundError) as err:  # a missing file is a clear error too
        assert _raised_in_stochlearn(err), (
            f"{name}{tuple(type(a).__name__ for a in args)} raised {type(err).__name__} inside a library "
            f"it calls, not a clear error of its own: {err}\n{''.join(traceback.format_tb(err.__traceback__)[-2:])}"
        )
        assert str(err), f"{name} raised {type(err).__name__} without a message"
        return
    except Exception as err:  # noqa: BLE001 - the point of the test
        pytest.fail(
            f"{name}{tuple(type(a).__name__ for a in args)} crashed with {type(err).__name__}: {err}\n"
            f"{''.join(traceback.format_tb(err.__traceback__)[-2:])}"
        )
    if not any(_has_nan(a) for a in args) and name not in NAN_MEANS:
        assert not _has_nan(result), f"{name} returned NaN for inputs without NaN: {args!r}"
