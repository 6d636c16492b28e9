"""DiffGrad: the paper's update rule, the friction coefficient and the aliasing bug."""

import copy
import math

import pytest
import torch

from stochlearn.optim import DiffGrad, diffgrad_friction


def _param(values):
    return torch.nn.Parameter(torch.tensor(values, dtype=torch.float64))


def _adam_and_diffgrad_first_steps(g, lr=0.1, betas=(0.9, 0.999)):
    pa, pd = _param([0.0] * len(g)), _param([0.0] * len(g))
    adam, dg = torch.optim.Adam([pa], lr=lr, betas=betas), DiffGrad([pd], lr=lr, betas=betas)
    pa.grad = torch.tensor(g, dtype=torch.float64)
    pd.grad = torch.tensor(g, dtype=torch.float64)
    adam.step()
    dg.step()
    return pa.detach(), pd.detach()


def test_first_step_is_adams_times_sigmoid_abs_g():
    g = [0.3, -2.0, 5.0]
    adam_step, dg_step = _adam_and_diffgrad_first_steps(g)
    expected = adam_step * torch.sigmoid(torch.tensor(g, dtype=torch.float64).abs())  # g_0 = 0
    torch.testing.assert_close(dg_step, expected, rtol=1e-10, atol=1e-12)


def test_constant_gradient_halves_adams_steps_after_the_first():
    g = torch.tensor([0.7, -1.3], dtype=torch.float64)
    pa, pd = _param([0.0, 0.0]), _param([0.0, 0.0])
    adam, dg = torch.optim.Adam([pa], lr=0.01), DiffGrad([pd], lr=0.01)
    for t in range(1, 6):
        before_a, before_d = pa.detach().clone(), pd.detach().clone()
        pa.grad, pd.grad = g.clone(), g.clone()
        adam.step()
        dg.step()
        if t >= 2:  # ξ = sigmoid(0) = 0.5 exactly
            torch.testing.assert_close(pd.detach() - before_d, 0.5 * (pa.detach() - before_a), rtol=1e-10, atol=0)
            assert torch.all(dg.state[pd]["friction"] == 0.5)


def test_update_matches_the_paper_equations():
    """Three steps against a direct transcription of eqs. 17-20."""
    torch.manual_seed(0)
    lr, (b1, b2), eps = 0.05, (0.9, 0.999), 1e-8
    p = _param([0.5, -0.2, 1.0, 3.0])
    opt = DiffGrad([p], lr=lr, betas=(b1, b2), eps=eps)
    theta, m, v, g_prev = (
        p.detach().clone(),
        torch.zeros(4, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
    )
    for t in range(1, 4):
        g = torch.randn(4, dtype=torch.float64)
        p.grad = g.clone()
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        xi = 1 / (1 + torch.exp(-(g_prev - g).abs()))
        theta = theta - lr * xi * m_hat / (v_hat.sqrt() + eps)
        g_prev = g
        torch.testing.assert_close(p.detach(), theta, rtol=1e-12, atol=1e-14)


def test_previous_grad_is_not_aliased_by_in_place_zeroing():
    """The bug of the original release: `previous_grad = grad` aliases p.grad, so ξ ≡ 0.5."""
    p = _param([1.0, 1.0])
    opt = DiffGrad([p], lr=0.1)
    p.grad = torch.tensor([1.0, -1.0], dtype=torch.float64)
    opt.step()
    opt.zero_grad(set_to_none=False)  # zeroes p.grad in place, as old PyTorch did
    p.grad.add_(torch.tensor([-2.0, 3.0], dtype=torch.float64))  # a second backward, in place
    opt.step()
    xi = opt.state[p]["friction"]
    torch.testing.assert_close(xi, torch.sigmoid(torch.tensor([3.0, 4.0], dtype=torch.float64)))
    assert torch.all(xi > 0.9)  # an aliased copy would give exactly 0.5


def test_friction_range_symmetry_and_fixed_point():
    torch.manual_seed(1)
    a, b = torch.randn(1000) * 10, torch.randn(1000) * 10
    xi = diffgrad_friction(a, b)
    assert torch.all(xi >= 0.5) and torch.all(xi <= 1.0)
    assert torch.all(diffgrad_friction(torch.randn(50), torch.randn(50)) < 1.0)
    torch.testing.assert_close(xi, diffgrad_friction(b, a))
    assert torch.all(diffgrad_friction(a, a) == 0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        diffgrad_friction(torch.zeros(2), torch.zeros(3))


def test_state_dict_round_trip_gives_identical_next_steps():
    torch.manual_seed(2)
    model = torch.nn.Linear(5, 3)
    opt = DiffGrad(model.parameters(), lr=1e-2, weight_decay=1e-3)
    x, y = torch.randn(16, 5), torch.randn(16, 3)

    def step(m, o):
        o.zero_grad()
        torch.nn.functional.mse_loss(m(x), y).backward()
        o.step()

    for _ in range(3):
        step(model, opt)
    clone = copy.deepcopy(model)
    opt2 = DiffGrad(clone.parameters(), lr=1e-2, weight_decay=1e-3)
    opt2.load_state_dict(copy.deepcopy(opt.state_dict()))
    for _ in range(2):
        step(model, opt)
        step(clone, opt2)
    for a, b in zip(model.parameters(), clone.parameters()):
        assert torch.equal(a, b)


def test_weight_decay_is_l2_added_to_the_gradient():
    p1, p2 = _param([2.0]), _param([2.0])
    o1, o2 = DiffGrad([p1], lr=0.1, weight_decay=0.5), DiffGrad([p2], lr=0.1)
    p1.grad = torch.tensor([1.0], dtype=torch.float64)
    p2.grad = torch.tensor([1.0 + 0.5 * 2.0], dtype=torch.float64)
    o1.step()
    o2.step()
    assert torch.equal(p1, p2)


def test_zero_lr_changes_nothing_and_closure_is_returned():
    p = _param([1.0, 2.0])
    opt = DiffGrad([p], lr=0.0)

    def closure():
        opt.zero_grad()
        loss = (p**2).sum()
        loss.backward()
        return loss

    assert math.isclose(opt.step(closure).item(), 5.0)
    assert torch.equal(p.detach(), torch.tensor([1.0, 2.0], dtype=torch.float64))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(lr=-1.0),
        dict(lr=float("nan")),
        dict(betas=(1.0, 0.9)),
        dict(betas=(0.9,)),
        dict(eps=-1e-8),
        dict(weight_decay=-0.1),
    ],
)
def test_bad_hyperparameters_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        DiffGrad([_param([0.0])], **kwargs)
