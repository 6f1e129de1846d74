import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from statmech_nn.data import digits, teacher_student
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model
from statmech_nn.seeds import derive_seed
from statmech_nn.train import (
    TrainSettings,
    loss_and_hits,
    per_sample_loss,
    resolve_device,
    snapshot_epochs,
    train_replicas,
    train_study,
)

ROOT = Path(__file__).resolve().parents[1]


def _tensors(ds, dtype=torch.float64):
    return [
        torch.as_tensor(ds[n].values).to(dtype if n[0] == "x" else torch.long)
        for n in ("x_train", "y_train", "x_test", "y_test")
    ]


@pytest.mark.parametrize(
    "settings",
    [
        TrainSettings(epochs=3, batch_size=16, optimizer="adam", lr=1e-2, snapshots=3),
        TrainSettings(
            epochs=3,
            batch_size=20,
            optimizer="sgd",
            lr=0.05,
            momentum=0.9,
            weight_decay=1e-3,
            loss="mse",
            snapshots=2,
        ),
    ],
    ids=["adam-cross_entropy", "sgd-momentum-mse"],
)
def test_vectorised_replicas_equal_each_replica_trained_alone(settings):
    data = _tensors(teacher_student(150, 50, 8, "perceptron", 0.1, seed=0))
    model = Model.build("mlp-d2-w12-tanh", 8, 2)
    seeds = [11, 12, 13, 14]
    together = train_replicas(model, *data, settings, seeds)
    for r, seed in enumerate(seeds):
        alone = train_replicas(model, *data, settings, [seed])
        for name, curve in together.curves.items():
            np.testing.assert_allclose(curve[r], alone.curves[name][0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(together.params[r], alone.params[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(together.snapshots[r], alone.snapshots[0], rtol=1e-6, atol=1e-9)
    # replicas really differ (own init and batch order)
    assert not torch.allclose(together.params[0], together.params[1])


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_per_sample_loss_with_classes_first_equals_classes_last(loss):
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(2, 3, 7, 4, generator=gen, dtype=torch.float64)  # (..., n, classes)
    y = torch.randint(0, 4, (7,), generator=gen)
    want = per_sample_loss(out, y, loss)
    got = per_sample_loss(out.mT.contiguous(), y, loss, class_dim=-2)
    assert got.shape == (2, 3, 7)
    torch.testing.assert_close(got, want, rtol=1e-14, atol=0)


def test_snapshots_hold_the_init_and_the_final_parameters():
    data = _tensors(teacher_student(60, 20, 5, "perceptron", 0.0, seed=1))
    model = Model.build("perceptron", 5, 2)
    res = train_replicas(model, *data, TrainSettings(epochs=4, batch_size=10, snapshots=3), [1, 2])
    assert res.snapshot_epochs == [0, 2, 4] == snapshot_epochs(4, 3)
    torch.testing.assert_close(res.snapshots[:, 0], model.init_replicas([1, 2], torch.float64))
    torch.testing.assert_close(res.snapshots[:, -1], res.params)


def test_divergence_is_marked_and_logged(caplog):
    ds = teacher_student(100, 20, 5, "perceptron", 0.0, seed=2)
    cfg = {
        "replicas": 3,
        "epochs": 3,
        "batch_size": 10,
        "optimizer": "sgd",
        "lr": 1e30,
        "momentum": 0.0,
        "weight_decay": 0.0,
        "loss": "mse",
        "snapshots": 2,
        "dtype": "float32",
    }
    with caplog.at_level(logging.WARNING):
        out = train_study(ds, "mlp-d1-w8-relu", cfg, seed=0)
    assert list(out["status"].values) == ["diverged"] * 3
    assert np.isnan(out["train_loss"].values[:, -1]).all()
    assert "diverged at epoch" in caplog.text
    assert out.attrs["n_diverged"] == 3


def test_mlp_d1_w64_on_digits_beats_90_percent_with_the_quick_config():
    cfg = yaml.safe_load((ROOT / "config" / "quick.yaml").read_text())["train"]
    out = train_study(digits(0.25, seed=0), "mlp-d1-w64", cfg, seed=0)
    final = out["test_accuracy"].isel(epoch=-1)
    assert (out["status"] == "ok").all()
    assert float(final.min()) > 0.9, final.values
    assert out["params"].dims == ("replica", "param")
    assert out["snapshots"].dims == ("replica", "snapshot", "param")
    assert out.sizes["param"] == Model.build("mlp-d1-w64", 64, 10).n_params
    assert out["params"].attrs["long_name"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only machine's behaviour")
def test_device_auto_falls_back_to_cpu_and_cuda_without_gpu_is_a_clear_error():
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(InputError, match="config device: 'cuda' was asked for"):
        resolve_device("cuda")


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_loss_and_hits_equal_per_sample_loss_and_argmax_ties_included(loss):
    gen = torch.Generator().manual_seed(3)
    out = torch.randn(2, 4, 9, generator=gen, dtype=torch.float64)  # (R, classes, n)
    y = torch.randint(0, 4, (9,), generator=gen)
    for tie in (False, True):
        if tie:  # sample 0: classes 1 and 2 tie for the maximum; argmax picks the first
            out[:, 1, 0] = out[:, 2, 0] = out[:, :, 0].max() + 1
            y[0] = 2
        losses, hits = loss_and_hits(out, y, loss)
        want = per_sample_loss(out, y, loss, class_dim=-2)
        torch.testing.assert_close(losses, want, rtol=1e-13, atol=1e-14)
        assert torch.equal(hits, out.argmax(-2) == y)


def test_one_diverging_replica_leaves_the_others_exactly_as_a_run_without_it(monkeypatch):
    """Replica 1 starts with its parameters scaled by 1e20 (a ReLU net: outputs ~1e60, loss
    ~1e118, finite at epoch 0); its first SGD step overflows, so it diverges during epoch 1.
    The healthy replicas must follow, to 1e-10 in float64, the run that never had it, and
    keep status ok; the diverged one is marked, with NaN curves from its epoch on."""
    data = _tensors(teacher_student(60, 20, 5, "perceptron", 0.1, seed=0))
    model = Model.build("mlp-d2-w6-relu", 5, 2)
    settings = TrainSettings(
        epochs=4, batch_size=20, optimizer="sgd", lr=0.1, momentum=0.9, loss="mse", snapshots=3
    )
    cfg = {**settings.__dict__, "replicas": 3, "dtype": "float64"}
    seeds = [derive_seed(0, "replica", r) for r in range(3)]  # the seeds train_study uses
    healthy = train_replicas(model, *data, settings, [seeds[0], seeds[2]])
    init = Model.init_replicas

    def one_huge(self, replica_seeds, dtype=torch.float32):
        theta = init(self, replica_seeds, dtype)
        scale = torch.tensor([1e20 if s == seeds[1] else 1.0 for s in replica_seeds], dtype=dtype)
        return theta * scale.unsqueeze(-1)

    monkeypatch.setattr(Model, "init_replicas", one_huge)
    res = train_replicas(model, *data, settings, seeds)
    assert res.diverged_epoch == [None, 1, None]
    bad = res.curves["train_loss"][1]
    assert torch.isfinite(bad[0]) and torch.isnan(bad[1:]).all()
    for name, curve in res.curves.items():
        assert torch.isfinite(curve[[0, 2]]).all(), name
        np.testing.assert_allclose(curve[[0, 2]], healthy.curves[name], rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.params[[0, 2]], healthy.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(res.snapshots[[0, 2]], healthy.snapshots, rtol=0, atol=1e-10)
    assert not torch.allclose(res.params[0], res.snapshots[0, 0])  # the healthy ones did train

    ds = teacher_student(60, 20, 5, "perceptron", 0.1, seed=0)
    study = train_study(ds, "mlp-d2-w6-relu", cfg, seed=0)
    assert list(study["status"].values) == ["ok", "diverged", "ok"]
    assert study.attrs["n_diverged"] == 1
    np.testing.assert_allclose(
        study["params"].values[[0, 2]], healthy.params.numpy(), rtol=0, atol=1e-10
    )
