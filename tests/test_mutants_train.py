"""Training-study promises mutation testing found unexercised (issue 19): the polish
variables of train_study and the snapshot schedule's edge case."""

import json

import numpy as np
import pytest
import torch

from statmech_nn.data import teacher_student
from statmech_nn.nets import MLP as Model
from statmech_nn.train import evaluate, resolve_device, snapshot_epochs, train_study

pytestmark = pytest.mark.usefixtures("one_thread")


def test_snapshot_schedule_spreads_count_epochs_and_keeps_the_init_alone_for_one():
    assert snapshot_epochs(10, 1) == [0]
    assert snapshot_epochs(10, 0) == [0]
    assert snapshot_epochs(10, 2) == [0, 10]
    assert snapshot_epochs(10, 3) == [0, 5, 10]
    assert snapshot_epochs(3, 11) == [0, 1, 2, 3]  # coinciding epochs merged


def test_polished_study_records_steps_convergence_and_the_trained_parameters():
    ds = teacher_student(80, 20, 4, "perceptron", 0.1, seed=1)
    cfg = {
        "replicas": 2, "epochs": 3, "batch_size": 16, "optimizer": "sgd", "lr": 0.1,
        "momentum": 0.0, "weight_decay": 0.0, "loss": "cross_entropy", "snapshots": 2,
        "dtype": "float64", "polish": {"method": "lbfgs", "tol": 1e-5, "max_steps": 500},
    }  # fmt: skip
    out = train_study(ds, "mlp-d1-w3-tanh", cfg, seed=0)
    for name in ("polish_steps", "polish_converged", "grad_norm"):
        assert out[name].dims == ("replica",), name
    assert out.polish_converged.attrs["long_name"] == "gradient norm reached polish.tol"
    assert out.polish_converged.values.all() and (out.grad_norm.values <= 1e-5).all()
    assert (out.polish_steps.values > 0).all()
    assert out.params_trained.dims == ("replica", "param")
    assert not np.allclose(out.params_trained.values, out.params.values)
    assert "polished" in out.params.attrs["long_name"]
    assert json.loads(out.attrs["polish_json"])["method"] == "lbfgs"


def test_auto_device_is_cuda_when_torch_sees_one(monkeypatch):
    assert resolve_device("auto") == torch.device("cpu") or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


def test_evaluate_stacked_replicas_one_accuracy_each():
    """θ (R, P) with more samples than classes: loss and accuracy per replica, as alone."""
    model = Model.build("mlp-d1-w4-tanh", 3, 2)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(11, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (11,), generator=gen)
    theta = torch.stack([model.init(s, torch.float64) for s in (1, 2, 3)])
    loss, acc = evaluate(model, theta, x, y, "cross_entropy")
    assert loss.shape == acc.shape == (3,)
    for r in range(3):
        lr, ar = evaluate(model, theta[r], x, y, "cross_entropy")
        torch.testing.assert_close(loss[r], lr, rtol=1e-14, atol=0)
        hits = (model.forward(theta[r], x).argmax(-1) == y).double().mean()
        assert float(acc[r]) == float(ar) == float(hits)


def test_snapshot_gradient_norms_are_per_replica():
    """|∇L| at the last snapshot is each replica's own full-batch gradient norm."""
    from statmech_nn.nets.functional import full_batch_gradient
    from statmech_nn.train import TrainSettings, train_replicas

    ds = teacher_student(60, 20, 4, "perceptron", 0.0, seed=2)
    x, y = (torch.as_tensor(ds[k].values) for k in ("x_train", "y_train"))
    model = Model.build("mlp-d1-w3-tanh", 4, 2)
    settings = TrainSettings(epochs=2, batch_size=20, optimizer="sgd", lr=0.2, snapshots=2)
    res = train_replicas(model, x, y.long(), x, y.long(), settings, [1, 2, 3])
    assert res.snapshot_grad_norms.shape == (3, 2)
    trainer = model.trainer("cross_entropy")
    want = full_batch_gradient(trainer, res.params.double(), x.double(), y.long())[1].norm(dim=-1)
    torch.testing.assert_close(res.snapshot_grad_norms[:, -1].double(), want, rtol=1e-5, atol=0)
    assert len(set(want.tolist())) == 3
