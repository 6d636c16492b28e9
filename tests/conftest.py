import os

import pytest
import torch

os.environ.setdefault("STOCHLEARN_QUIET", "1")


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
    yield
