"""The tpsgd chapter's library: random target projections, local losses and the layer-local step."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stochlearn.local import TargetProjection, local_loss, tpsgd_rnn_step, tpsgd_step


def _batch(B=16, d=5, C=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(B, d, generator=gen), torch.randint(0, C, (B,), generator=gen)


def test_projections_are_fixed_buffers_of_the_right_shape():
    proj = TargetProjection([7, 3], 4, scale=2.0, seed=1)
    assert [tuple(proj[i].shape) for i in range(len(proj))] == [(7, 4), (3, 4)]
    assert not any(p.requires_grad for p in proj.buffers()) and not list(proj.parameters())
    assert torch.equal(proj[0], TargetProjection([7, 3], 4, scale=2.0, seed=1)[0])  # per seed
    assert not torch.equal(proj[0], TargetProjection([7, 3], 4, scale=2.0, seed=2)[0])
    big = TargetProjection([4000], 4, scale=2.0)
    assert big[0].std().item() == pytest.approx(2.0, rel=0.05)
    with pytest.raises(IndexError):
        proj[2]


@pytest.mark.parametrize("kind", ["mse", "l1", "drtp", "ce_proj"])
def test_local_losses_have_their_closed_form_gradients(kind):
    a = torch.randn(8, 6, requires_grad=True)
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    P = torch.randn(6, 4)
    loss = local_loss(a, y, P, kind)
    assert loss.dim() == 0
    (g,) = torch.autograd.grad(loss, a)
    s = F.one_hot(y, 4).float() @ P.T
    if kind == "mse":
        assert torch.allclose(g, (a - torch.tanh(s)) / 8, atol=1e-6)
    elif kind == "l1":
        assert torch.allclose(g, torch.sign(a - torch.tanh(s)) / 8)
    elif kind == "drtp":
        assert torch.allclose(g, -s / 8)
    else:
        assert torch.allclose(g, (torch.softmax(a @ P, 1) - F.one_hot(y, 4)) @ P.T / 8, atol=1e-6)


def test_tpsgd_step_gives_each_layer_its_local_gradient_only():
    x, y = _batch()
    torch.manual_seed(0)
    layers = nn.ModuleList([nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 4)])
    proj = TargetProjection([6, 6], 4)
    tpsgd_step(layers, x, y, proj, "mse")
    # layer 1: the analytic local gradient [(a - tanh(Py*)) * (1 - a^2)] x^T / B
    a1 = torch.tanh(layers[0](x)).detach()
    s1 = F.one_hot(y, 4).float() @ proj[0].T
    delta = (a1 - torch.tanh(s1)) * (1 - a1**2) / len(y)
    assert torch.allclose(layers[0].weight.grad, delta.T @ x, atol=1e-6)
    assert torch.allclose(layers[0].bias.grad, delta.sum(0), atol=1e-6)
    # nothing flows back from later layers: perturbing them leaves layer 1's gradient unchanged
    g1 = layers[0].weight.grad.clone()
    with torch.no_grad():
        layers[1].weight.mul_(-3.0)
        layers[2].weight.add_(1.0)
    layers.zero_grad()
    tpsgd_step(layers, x, y, proj, "mse")
    assert torch.allclose(layers[0].weight.grad, g1)


def test_random_features_train_only_the_output_layer():
    x, y = _batch()
    layers = nn.ModuleList([nn.Linear(5, 6), nn.Linear(6, 4)])
    out = tpsgd_step(layers, x, y, TargetProjection([6], 4), train_hidden=False)
    assert layers[0].weight.grad is None and layers[1].weight.grad is not None
    assert set(out) == {"output"}


def test_no_graph_spans_two_layers():
    x, y = _batch()
    seen = []
    layers = nn.ModuleList([nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 4)])
    for layer in layers:
        layer.register_forward_pre_hook(lambda mod, inp: seen.append(inp[0].grad_fn))
    tpsgd_step(layers, x, y, TargetProjection([6, 6], 4), "ce_proj")
    assert seen == [None, None, None]  # every layer's input is a leaf


def test_rnn_step_has_no_gradient_through_time():
    torch.manual_seed(0)
    cell, head = nn.RNNCell(3, 5), nn.Linear(5, 4)
    x_seq = torch.randn(6, 4, 3)
    y = torch.randint(0, 4, (6,))
    P = TargetProjection([5], 4)[0]
    tpsgd_rnn_step(cell, head, x_seq, y, P, "mse")
    # the same gradient from the per-step losses, each with the previous state as a constant
    g = torch.zeros_like(cell.weight_hh)
    h = torch.zeros(6, 5)
    for t in range(4):
        w = cell.weight_hh.detach().requires_grad_(True)
        h_new = torch.tanh(x_seq[:, t] @ cell.weight_ih.T + cell.bias_ih + h @ w.T + cell.bias_hh)
        g += torch.autograd.grad(local_loss(h_new, y, P, "mse") / 4, w)[0]
        h = h_new.detach()
    assert torch.allclose(cell.weight_hh.grad, g, atol=1e-6)
    assert head.weight.grad is not None


def test_bad_arguments():
    with pytest.raises(ValueError):
        TargetProjection([], 4)
    with pytest.raises(ValueError):
        TargetProjection([3], 1)
    with pytest.raises(ValueError):
        local_loss(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(3, 2), "hinge")
    with pytest.raises(ValueError):
        local_loss(torch.zeros(2, 3), torch.tensor([0, 5]), torch.zeros(3, 2))
    with pytest.raises(ValueError):
        tpsgd_step([nn.Linear(2, 2)], torch.zeros(1, 2), torch.tensor([0]), TargetProjection([2], 2))


def test_peak_saved_bytes_follows_the_lifetime_of_each_graph():
    from stochlearn.memory import peak_saved_bytes

    torch.manual_seed(0)
    lin1, lin2 = nn.Linear(5, 8), nn.Linear(8, 8)
    params = [*lin1.parameters(), *lin2.parameters()]
    x = torch.randn(16, 5)

    def together():  # backprop: both layers' tensors are alive until the backward pass
        torch.tanh(lin2(torch.tanh(lin1(x)))).sum().backward()

    def apart():  # one layer at a time: the first graph is freed before the second is built
        h = torch.tanh(lin1(x))
        h.sum().backward()
        torch.tanh(lin2(h.detach())).sum().backward()

    # x (16x5), tanh1's output (= lin2's input, one storage), tanh2's output; float32
    assert peak_saved_bytes(together, exclude=params) == 4 * 16 * (5 + 8 + 8)
    assert peak_saved_bytes(apart, exclude=params) == 4 * 16 * (8 + 8)  # the larger of the two steps
    with pytest.raises(ValueError):
        peak_saved_bytes(3)
