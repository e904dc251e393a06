"""The bridge between the halves: torch's LinearNet trained by full-batch GD in float64 with the
theory's loss ½‖WY − X‖² and step reproduces theory's closed-form W^k (rtol 1e-8)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from empirical.models import LinearNet  # noqa: E402
from theory import MRI, Problem, SubspaceSignal, gradient_descent  # noqa: E402


@pytest.mark.parametrize("N", [6, 40])
def test_linearnet_gd_equals_closed_form(seed, N):
    rng = np.random.default_rng(seed)
    pop = Problem(SubspaceSignal(16, 3), 0.2).population(rng=rng)
    X, Y = pop.sample(N, rng=rng)
    lr = pop.paper_lr(N)
    steps = [1, 7, 60]
    net = LinearNet((1, 4, 4)).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    y_img = torch.from_numpy(Y.T.reshape(N, 1, 4, 4).copy())
    x_img = torch.from_numpy(X.T.reshape(N, 1, 4, 4).copy())
    closed = gradient_descent(X, Y, steps, lr=lr)
    assert torch.all(net.weight == 0)
    for k in range(1, max(steps) + 1):
        opt.zero_grad()
        loss = 0.5 * torch.sum((net(y_img) - x_img) ** 2)  # ½‖WY − X‖_F², the theory's loss
        loss.backward()
        opt.step()
        if k in steps:
            W = net.weight.detach().numpy()
            np.testing.assert_allclose(W, closed[steps.index(k)], rtol=1e-8, atol=1e-12 * np.abs(W).max())
    assert pop.risk(net.weight.detach().numpy()) == pytest.approx(float(pop.risk(closed[-1])), rel=1e-8)


def test_linearnet_on_mri_measurements(seed):
    """Non-square maps too: y ∈ R^m (MRI real representation) → x̂ ∈ R^n."""
    rng = np.random.default_rng(seed)
    op = MRI((4, 4), accel=2, center_fraction=0.25)
    pop = Problem(SubspaceSignal(16, 3), 0.1, op).population(rng=rng)
    N = 12
    X, Y = pop.sample(N, rng=rng)
    lr = pop.paper_lr(N)
    net = LinearNet((1, 1, op.m), (1, 4, 4)).double()
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    y_in = torch.from_numpy(Y.T.reshape(N, 1, 1, op.m).copy())
    x_img = torch.from_numpy(X.T.reshape(N, 1, 4, 4).copy())
    for _ in range(25):
        opt.zero_grad()
        (0.5 * torch.sum((net(y_in) - x_img) ** 2)).backward()
        opt.step()
    np.testing.assert_allclose(net.weight.detach().numpy(), gradient_descent(X, Y, [25], lr=lr)[0], rtol=1e-8, atol=1e-13)
