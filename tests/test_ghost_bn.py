"""Ghost Batch Normalization: per-ghost-batch statistics in training, plain BatchNorm in eval."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stochlearn.nn import GhostBatchNorm1d, GhostBatchNorm2d, ghost_batch_norm, ghost_sizes, replace_bn_with_ghost

CASES = [
    (GhostBatchNorm1d, nn.BatchNorm1d, (70, 6)),
    (GhostBatchNorm1d, nn.BatchNorm1d, (45, 3, 5)),
    (GhostBatchNorm2d, nn.BatchNorm2d, (37, 3, 4, 5)),
]
IDS = ["1d", "1d-sequence", "2d"]


def _pair(ghost_cls, bn_cls, c, ghost_batch_size, **kw):
    """A ghost layer with random affine parameters and a BatchNorm with the same state."""
    torch.manual_seed(0)
    ghost = ghost_cls(c, ghost_batch_size=ghost_batch_size, **kw)
    if ghost.affine:
        with torch.no_grad():
            ghost.weight.uniform_(0.5, 2.0)
            ghost.bias.normal_()
    bn = bn_cls(c, **kw)
    bn.load_state_dict(ghost.state_dict())
    return ghost, bn


def _data(shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    return 3.0 * torch.randn(*shape, generator=g) + 1.5


@pytest.mark.parametrize("ghost_cls,bn_cls,shape", CASES, ids=IDS)
def test_ghost_larger_than_batch_is_batchnorm_including_running_stats(ghost_cls, bn_cls, shape):
    ghost, bn = _pair(ghost_cls, bn_cls, shape[1], ghost_batch_size=shape[0])
    for step in range(3):
        x = _data(shape, seed=step)
        torch.testing.assert_close(ghost(x), bn(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(ghost.running_mean, bn.running_mean, atol=1e-6, rtol=0)
    torch.testing.assert_close(ghost.running_var, bn.running_var, atol=1e-6, rtol=0)
    assert int(ghost.num_batches_tracked) == int(bn.num_batches_tracked) == 3


@pytest.mark.parametrize("ghost_cls,bn_cls,shape", CASES, ids=IDS)
def test_every_ghost_batch_has_mean_zero_and_variance_one(ghost_cls, bn_cls, shape):
    ghost = ghost_cls(shape[1], ghost_batch_size=8)  # weight 1, bias 0
    x = _data(shape)
    with torch.no_grad():
        out = ghost(x)
    dims = [0] + list(range(2, x.dim()))
    for chunk in out.split(8):
        assert float(chunk.mean(dims).abs().max()) < 1e-5
        assert float((chunk.var(dims, unbiased=False) - 1).abs().max()) < 1e-3
    # a plain BatchNorm does not: its chunks have means far from zero
    with torch.no_grad():
        whole = bn_cls(shape[1])(x)
    assert max(float(c.mean(dims).abs().max()) for c in whole.split(8)) > 0.05


@pytest.mark.parametrize("ghost_cls,bn_cls,shape", CASES, ids=IDS)
def test_matches_batchnorm_applied_chunk_by_chunk(ghost_cls, bn_cls, shape):
    """Output, input gradient, parameter gradients and running stats equal a loop over chunks
    through nn.BatchNorm (the official code's chunked forward); N is not a multiple of 16."""
    ghost, bn = _pair(ghost_cls, bn_cls, shape[1], ghost_batch_size=16)
    xa = _data(shape).requires_grad_()
    xb = xa.detach().clone().requires_grad_()
    out = ghost(xa)
    sizes = ghost_sizes(shape[0], 16, xa[0, 0].numel())
    assert sizes[-1] == shape[0] % 16 and sum(sizes) == shape[0]  # the last chunk is smaller
    ref = torch.cat([bn(c) for c in xb.split(sizes)])
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(out)
    (out * w).sum().backward()
    (ref * w).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ghost.weight.grad, bn.weight.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ghost.bias.grad, bn.bias.grad, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ghost.running_mean, bn.running_mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ghost.running_var, bn.running_var, atol=1e-5, rtol=1e-6)
    assert int(ghost.num_batches_tracked) == int(bn.num_batches_tracked) == len(sizes)


def test_cumulative_average_momentum_none_matches_chunked_batchnorm():
    ghost, bn = _pair(GhostBatchNorm1d, nn.BatchNorm1d, 4, ghost_batch_size=10, momentum=None)
    for step in range(2):
        x = _data((45, 4), seed=step)
        ghost(x)
        for c in x.split(10):
            bn(c)
    torch.testing.assert_close(ghost.running_mean, bn.running_mean, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ghost.running_var, bn.running_var, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize("ghost_cls,bn_cls,shape", CASES, ids=IDS)
def test_eval_mode_equals_batchnorm_with_the_same_state_dict(ghost_cls, bn_cls, shape):
    ghost, _ = _pair(ghost_cls, bn_cls, shape[1], ghost_batch_size=8)
    for step in range(4):  # move the running statistics away from (0, 1)
        ghost(_data(shape, seed=10 + step))
    bn = bn_cls(shape[1])
    bn.load_state_dict(ghost.state_dict())
    ghost.eval()
    bn.eval()
    x = _data(shape, seed=99)
    torch.testing.assert_close(ghost(x), bn(x), atol=1e-6, rtol=0)
    assert set(ghost.state_dict()) == set(bn.state_dict())


def test_a_single_leftover_row_joins_the_previous_ghost_batch():
    assert ghost_sizes(33, 16) == [16, 17]
    assert ghost_sizes(33, 16, values_per_row=4) == [16, 16, 1]  # images: 4 values per channel
    assert ghost_sizes(10, 16) == [10]
    x = _data((33, 3))
    out = GhostBatchNorm1d(3, ghost_batch_size=16)(x)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[16:], F.batch_norm(x[16:], None, None, training=True), atol=1e-5, rtol=0)


def test_no_running_stats_and_no_affine():
    ghost = GhostBatchNorm1d(5, ghost_batch_size=4, affine=False, track_running_stats=False)
    x = _data((12, 5))
    ref = torch.cat([F.batch_norm(c, None, None, training=True) for c in x.split(4)])
    torch.testing.assert_close(ghost(x), ref, atol=1e-5, rtol=0)
    ghost.eval()  # without running stats BatchNorm normalises with the batch even in eval mode
    torch.testing.assert_close(ghost(x), F.batch_norm(x, None, None, training=True), atol=1e-5, rtol=0)


def test_replace_bn_with_ghost_keeps_eval_output_and_swaps_recursively():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Sequential(nn.Linear(4 * 4 * 4, 8), nn.BatchNorm1d(8)),
        nn.Linear(8, 3),
    )
    model.train()
    for _ in range(3):  # non-trivial running statistics
        model(torch.randn(20, 2, 6, 6))
    model.eval()
    x = torch.randn(7, 2, 6, 6)
    before = model(x)
    same = replace_bn_with_ghost(model, 4)
    assert same is model
    assert isinstance(model[1], GhostBatchNorm2d) and isinstance(model[4][1], GhostBatchNorm1d)
    assert model[1].ghost_batch_size == 4 and not model[1].training
    torch.testing.assert_close(model(x), before, atol=0, rtol=0)
    replace_bn_with_ghost(model, 2)  # ghost layers only change their ghost size
    assert model[4][1].ghost_batch_size == 2
    bare = replace_bn_with_ghost(nn.BatchNorm1d(3), 5)
    assert isinstance(bare, GhostBatchNorm1d) and bare.ghost_batch_size == 5


def test_gradient_of_a_training_step_matches_chunked_model():
    """A model with ghost layers gets the gradient of the mean loss over separately normalised chunks."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3))
    ghost_net = replace_bn_with_ghost(copy.deepcopy(net), 8)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    F.cross_entropy(ghost_net(x), y).backward()
    for c, t in zip(x.split(8), y.split(8)):  # the official main_gbn.py loop
        (F.cross_entropy(net(c), t) / 4).backward()
    for p, q in zip(ghost_net.parameters(), net.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-5)


def test_bad_arguments_raise_value_error():
    for bad in (0, -3, 2.5, True, None):
        with pytest.raises(ValueError, match="ghost_batch_size"):
            GhostBatchNorm1d(4, ghost_batch_size=bad)
    with pytest.raises(ValueError, match="x must be"):
        ghost_batch_norm(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="more than one value"):
        ghost_batch_norm(torch.zeros(6, 3), 1)
    with pytest.raises(ValueError, match="Module"):
        replace_bn_with_ghost("not a model", 4)
    with pytest.raises(ValueError):
        GhostBatchNorm2d(3)(torch.zeros(4, 3))  # BatchNorm's own input check
    assert "ghost_batch_size=16" in repr(GhostBatchNorm2d(3, ghost_batch_size=16))
