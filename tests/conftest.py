import os

import pytest
import torch

os.environ.setdefault("STOCHLEARN_QUIET", "1")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield


def pytest_addoption(parser):
    parser.addoption(
        "--chapter",
        action="append",
        default=[],
        metavar="SLUG",
        help="run only this chapter's parametrized tests (repeatable); "
        "tests that are not about one chapter are deselected",
    )


def pytest_collection_modifyitems(config, items):
    """With --chapter: keep the tests parametrized by one of those chapters (make nightly-checks)."""
    wanted = set(config.getoption("--chapter"))
    if not wanted:
        return

    def slug_of(item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        ch = params.get("ch")
        return getattr(ch, "slug", None)

    keep = [it for it in items if slug_of(it) in wanted]
    config.hook.pytest_deselected(items=[it for it in items if it not in keep])
    items[:] = keep
