"""Hessian operators mutation testing found untested (issue 19): the single-vector GGN product."""

import pytest
import torch
from torch.func import jacrev

from statmech_nn import hessian as hs
from statmech_nn.models import Model
from statmech_nn.train import per_sample_loss

pytestmark = pytest.mark.usefixtures("one_thread")
F64 = torch.float64


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_ggn_vp_is_jt_h_j_times_v(loss):
    """G·v = Jᵀ(∇²_f ℓ)J v against the dense Jacobians, for a v that is not a basis vector."""
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(12, 3, generator=gen, dtype=F64)
    y = torch.randint(0, 3, (12,), generator=gen)
    model = Model.build("mlp-d1-w5-tanh", 3, 3)
    theta = 2 * model.init(5, F64)

    def outputs(th):
        return model.forward(th, x)

    def output_loss(f):
        return per_sample_loss(f, y, loss).mean(-1)

    j = jacrev(outputs)(theta)
    hl = torch.func.hessian(output_loss)(outputs(theta))
    g = torch.einsum("acp,acbd,bdq->pq", j, hl, j)
    v = torch.randn(model.n_params, generator=gen, dtype=F64)
    got = hs.ggn_vp(outputs, output_loss, theta, v)
    torch.testing.assert_close(got, g @ v, rtol=1e-10, atol=1e-12)
    assert float(v @ got) > 0  # G ⪰ 0 for a convex loss of the outputs
