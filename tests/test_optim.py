"""The optimizers on their own, K runs at once, against torch.optim run separately for each run."""

from __future__ import annotations

import pytest
import torch

from symbreak.engine.optim import Optimizer
from symbreak.settings import registry

REFERENCES = {
    "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd),
    "momentum": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, momentum=0.9, weight_decay=wd),
    "adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, weight_decay=wd),
}
LRS = [0.05, 0.3, 0.01]
DECAYS = [0.0, 0.05, 0.2]


def column(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64).unsqueeze(-1)


def test_every_optimizer_the_settings_offer_has_an_update_rule() -> None:
    for name in registry.OPTIMIZERS:
        Optimizer(name, column([0.1]), column([0.0]), torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"optimizer: 'rmsprop' is not one of sgd, momentum, adam"):
        Optimizer("rmsprop", column([0.1]), column([0.0]), torch.zeros(1, 3))


@pytest.mark.parametrize("name", registry.OPTIMIZERS)
def test_each_run_follows_torch_optim_with_its_own_rate_and_decay(name: str) -> None:
    generator = torch.Generator().manual_seed(3)
    theta = torch.randn(len(LRS), 6, generator=generator, dtype=torch.float64)
    grads = torch.randn(30, len(LRS), 6, generator=generator, dtype=torch.float64)
    references = [torch.nn.Parameter(theta[run].clone()) for run in range(len(LRS))]
    optimizers = [REFERENCES[name]([p], lr, wd) for p, lr, wd in zip(references, LRS, DECAYS)]
    ours = Optimizer(name, column(LRS), column(DECAYS), theta)
    for step, grad in enumerate(grads):
        ours.update(theta, grad, step)
        for run, (param, optimizer) in enumerate(zip(references, optimizers)):
            param.grad = grad[run].clone()
            optimizer.step()
    for run, param in enumerate(references):
        torch.testing.assert_close(theta[run], param.detach(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", registry.OPTIMIZERS)
def test_equal_entries_with_equal_gradients_stay_bitwise_equal_and_reset_forgets(name: str) -> None:
    generator = torch.Generator().manual_seed(5)
    start = torch.randn(2, 4, generator=generator, dtype=torch.float32).repeat(1, 2)  # entries i and i + 4 equal
    grads = torch.randn(20, 2, 4, generator=generator, dtype=torch.float32).repeat(1, 1, 2)
    optimizer = Optimizer(name, column([0.1, 0.02]).float(), column([0.01, 0.0]).float(), start)
    runs = []
    for _ in range(2):
        theta = start.clone()
        optimizer.reset(theta)
        for step, grad in enumerate(grads):
            optimizer.update(theta, grad, step)
        assert torch.equal(theta[:, :4], theta[:, 4:])
        runs.append(theta)
    assert not torch.equal(runs[0], start)
    assert torch.equal(runs[0], runs[1]), "after reset the same gradients give the same parameters"
