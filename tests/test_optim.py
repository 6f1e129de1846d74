"""Our SGD and Adam follow torch.optim's update rules step for step."""

import pytest
import torch

from statmech_nn.optim import Optimizer


@pytest.mark.parametrize(
    ("kind", "kwargs", "dtype"),
    [
        ("sgd", {"lr": 0.1}, torch.float32),
        ("sgd", {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.01}, torch.float32),
        ("adam", {"lr": 0.01}, torch.float32),
        ("adam", {"lr": 0.003, "weight_decay": 0.1}, torch.float32),
        ("adam", {"lr": 0.01}, torch.float64),
        ("adam", {"lr": 0.003, "weight_decay": 0.1}, torch.float64),
    ],
)
def test_matches_torch_optim(kind, kwargs, dtype):
    """Our Adam calls torch.optim's fused kernel: in float32 it matches torch.optim.Adam
    (fused=True) bitwise (the unfused update rounds differently by about one unit in the
    last place); in float64 it matches the unfused torch.optim.Adam bitwise."""
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 7, generator=gen, dtype=dtype)
    ours = torch.randn(3, 7, generator=gen, dtype=dtype)
    ref = ours.clone().requires_grad_(True)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[kind]
    fused = {"fused": True} if kind == "adam" and dtype == torch.float32 else {}
    ref_opt = cls([ref], **kwargs, **fused)
    opt = Optimizer(kind, **kwargs)
    for _ in range(25):
        ref_opt.zero_grad()
        ((ref - target) ** 4).sum().backward()
        ref_opt.step()
        opt.step(ours, 4 * (ours - target) ** 3)
    torch.testing.assert_close(ours, ref.detach(), rtol=1e-12, atol=1e-12)
    assert not torch.equal(ours, target)  # it moved


def test_unknown_optimizer_is_refused():
    with pytest.raises(ValueError, match="rmsprop"):
        Optimizer("rmsprop", lr=0.1)
