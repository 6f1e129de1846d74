import logging
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from statmech_nn.data import digits, teacher_student
from statmech_nn.errors import InputError
from statmech_nn.models import Model
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
