"""Training promises a fresh mutation run (issue 19) found unexercised: the snapshot
coordinate the Hessian and slice stages index by, and the accuracy of regression targets."""

import numpy as np
import pytest
import torch

from statmech_nn.data import teacher_student
from statmech_nn.nets import MLP as Model
from statmech_nn.train import evaluate, snapshot_epochs, train_study

pytestmark = pytest.mark.usefixtures("one_thread")


def test_train_study_labels_snapshots_by_their_epoch():
    """The snapshots carry a ``snapshot_epoch`` coordinate: the epochs they were taken at."""
    ds = teacher_student(60, 20, 4, "perceptron", 0.0, seed=2)
    cfg = {
        "replicas": 2, "epochs": 4, "batch_size": 16, "optimizer": "sgd", "lr": 0.1,
        "momentum": 0.0, "weight_decay": 0.0, "loss": "cross_entropy", "snapshots": 3,
        "dtype": "float64",
    }  # fmt: skip
    out = train_study(ds, "mlp-d1-w3-tanh", cfg, seed=0)
    assert "snapshot_epoch" in out.coords
    np.testing.assert_array_equal(out["snapshot_epoch"].values, snapshot_epochs(4, 3))
    (snap_dim,) = out["snapshot_epoch"].dims
    assert snap_dim in out["snapshots"].dims
    assert out["snapshots"].sizes[snap_dim] == len(snapshot_epochs(4, 3))


def test_regression_accuracy_is_a_float64_nan_like_a_classifiers_accuracy():
    """Real targets have no accuracy: NaN per replica, float64 like the classification
    branch (the study stores both in one float64 curve), whatever the loss's dtype."""
    model = Model.build("mlp-d1-w4-tanh", 3, 1)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(9, 3, generator=gen)
    y = torch.randn(9, generator=gen)
    theta = torch.stack([model.init(s, torch.float32) for s in (1, 2)])
    loss, acc = evaluate(model, theta, x, y, "mse")
    assert loss.dtype == torch.float32 and loss.shape == (2,)
    assert acc.dtype == torch.float64 and acc.shape == (2,)
    assert torch.isnan(acc).all()
    labels = torch.randint(0, 2, (9,), generator=gen)
    model2 = Model.build("mlp-d1-w4-tanh", 3, 2)
    theta2 = torch.stack([model2.init(s, torch.float32) for s in (1, 2)])
    assert evaluate(model2, theta2, x, labels, "cross_entropy")[1].dtype == acc.dtype
