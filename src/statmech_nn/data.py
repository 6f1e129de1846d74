"""Data sets of the study as labelled Datasets: digits and teacher–student.

Both return ``x_train (train_sample, feature)``, ``y_train (train_sample)``,
``x_test (test_sample, feature)``, ``y_test (test_sample)`` with integer class
labels, the number of classes in the ``n_classes`` attribute and the number of
training samples in ``n_train``. Nothing is downloaded: digits ships inside
scikit-learn, teacher–student is synthetic. A config entry's optional
``train_size`` keeps the first training samples (:func:`first_train_samples`), so
a sweep over training-set sizes is a list of entries that differ only there.
"""

import numpy as np
import torch
import xarray as xr
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from statmech_nn.dims import FEATURE, TEST_SAMPLE, TRAIN_SAMPLE
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.nets.mlp import MLP
from statmech_nn.seeds import derive_seed


def _as_dataset(x_tr, y_tr, x_te, y_te, n_classes: int, **attrs) -> xr.Dataset:
    return xr.Dataset(
        {
            "x_train": labelled(x_tr, (TRAIN_SAMPLE, FEATURE), "training inputs"),
            "y_train": labelled(y_tr, (TRAIN_SAMPLE,), "training class label"),
            "x_test": labelled(x_te, (TEST_SAMPLE, FEATURE), "test inputs"),
            "y_test": labelled(y_te, (TEST_SAMPLE,), "test class label"),
        },
        attrs={"n_classes": n_classes, "n_train": len(y_tr), **attrs},
    )


def digits(test_fraction: float, seed: int) -> xr.Dataset:
    """scikit-learn's 8×8 digits, split by ``seed`` and standardised with training stats.

    Pixels that are constant on the training set keep the value 0.
    """
    x, y = load_digits(return_X_y=True)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed % 2**32, stratify=y
    )
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    std[std == 0] = 1.0
    return _as_dataset(
        (x_tr - mean) / std,
        y_tr.astype(np.int64),
        (x_te - mean) / std,
        y_te.astype(np.int64),
        n_classes=10,
        description="scikit-learn digits (8x8 images), standardised",
    )


def teacher_student(
    n_train: int, n_test: int, dim: int, teacher: str, label_noise: float, seed: int
) -> xr.Dataset:
    """Standard Gaussian inputs labelled by a random teacher network.

    The teacher (``"perceptron"`` or an MLP string
    with one output) has standard Gaussian weights and labels y = [f(x) > 0];
    a fraction ``label_noise`` of the training labels is flipped.
    """
    gen = torch.Generator().manual_seed(seed)
    model = MLP.build(teacher, dim, 1)
    theta = torch.randn(model.n_params, generator=gen, dtype=torch.float64)
    x = torch.randn(n_train + n_test, dim, generator=gen, dtype=torch.float64)
    y = (model.forward(theta, x)[:, 0] > 0).long()
    flip = torch.rand(n_train, generator=gen, dtype=torch.float64) < label_noise
    y[:n_train] = torch.where(flip, 1 - y[:n_train], y[:n_train])
    return _as_dataset(
        x[:n_train].numpy(),
        y[:n_train].numpy(),
        x[n_train:].numpy(),
        y[n_train:].numpy(),
        n_classes=2,
        description=f"teacher-student: Gaussian inputs, teacher {teacher}, "
        f"label noise {label_noise} on the training set",
    )


def first_train_samples(ds: xr.Dataset, train_size: int, key: str = "train_size") -> xr.Dataset:
    """The data set with only its first ``train_size`` training samples; the test set unchanged.

    The training set comes shuffled by the seeded split (digits) or drawn i.i.d.
    (teacher–student), so its first samples are a random subset, and a smaller
    size is a prefix of a larger one. Inputs keep the standardisation of the
    full training split, so the kept rows are exactly the full set's first rows.
    More samples than the split holds is an :class:`InputError` naming ``key``.
    """
    available = ds.sizes[TRAIN_SAMPLE]
    if not 1 <= train_size <= available:
        raise InputError(
            f"{key}: {train_size} training samples asked for, the data set has {available}"
        )
    out = ds.isel({TRAIN_SAMPLE: slice(0, train_size)})
    out.attrs["n_train"] = train_size
    return out


def split_seed(base_seed: int, spec: dict) -> int:
    """The seed of a data set: a hash of its config entry without ``train_size``.

    Entries that differ only in ``train_size`` therefore share one split and one
    test set, and the smaller training sets are prefixes of the larger ones (a
    nested training-set-size sweep); the entry's name plays no part.
    """
    return derive_seed(base_seed, "data", {k: v for k, v in spec.items() if k != "train_size"})


def make_dataset(spec: dict, seed: int, name: str = "dataset") -> xr.Dataset:
    """Build the data set a config entry ``datasets.<name>`` describes (``kind`` plus its keys).

    An optional ``train_size`` (absent or null: all) keeps the first training samples.
    """
    kwargs = {k: v for k, v in spec.items() if k not in ("kind", "train_size")}
    builders = {"digits": digits, "teacher_student": teacher_student}
    ds = builders[spec["kind"]](**kwargs, seed=seed)
    ds.attrs["kind"] = spec["kind"]
    if spec.get("train_size") is not None:
        ds = first_train_samples(ds, spec["train_size"], f"config datasets.{name}.train_size")
    return ds
