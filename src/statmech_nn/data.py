"""Data sets of the study as labelled Datasets: digits, teacher–student, the user's files.

All return ``x_train (train_sample, feature)``, ``y_train (train_sample)``,
``x_test (test_sample, feature)``, ``y_test (test_sample)`` with integer class
labels (or real targets, ``task`` ``regression``: the ``function`` kind), the
number of classes (1 for regression) in the ``n_classes`` attribute and the number of
training samples in ``n_train``; inputs are stored flat, the shape of one
sample (e.g. channels × height × width for images) in ``input_shape_json``.
Nothing is downloaded: digits ships inside scikit-learn, teacher–student is
synthetic, ``file`` reads the user's own .npz or netCDF file. A config entry's optional
``train_size`` keeps the first training samples (:func:`first_train_samples`), so
a sweep over training-set sizes is a list of entries that differ only there.
"""

import json
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from statmech_nn.dims import FEATURE, TEST_SAMPLE, TRAIN_SAMPLE
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.nets.mlp import MLP
from statmech_nn.seeds import derive_seed


def _as_dataset(x_tr, y_tr, x_te, y_te, n_classes: int, **attrs) -> xr.Dataset:
    """``n_classes``: classes of integer labels, or 1 (one real output) for regression."""
    task = attrs.setdefault("task", "classification")
    what = "class label" if task == "classification" else "target value f(x)"
    return xr.Dataset(
        {
            "x_train": labelled(x_tr, (TRAIN_SAMPLE, FEATURE), "training inputs"),
            "y_train": labelled(y_tr, (TRAIN_SAMPLE,), f"training {what}"),
            "x_test": labelled(x_te, (TEST_SAMPLE, FEATURE), "test inputs"),
            "y_test": labelled(y_te, (TEST_SAMPLE,), f"test {what}"),
        },
        attrs={"n_classes": n_classes, "n_outputs": n_classes, "n_train": len(y_tr), **attrs},
    )


def digits(test_fraction: float, seed: int, images: bool = False) -> xr.Dataset:
    """scikit-learn's 8×8 digits, split by ``seed`` and standardised with training stats.

    Pixels that are constant on the training set keep the value 0. ``images``:
    served as 1×8×8 images (``input_shape_json``) for convolutional networks.
    """
    from sklearn.datasets import load_digits  # local: scikit-learn's import costs ~1 s a job
    from sklearn.model_selection import train_test_split

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
        input_shape_json=json.dumps([1, 8, 8] if images else [64]),
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


def smooth_function(x: np.ndarray, frequency: float) -> np.ndarray:
    """f(x) = (1/√d) Σⱼ sin(π ω xⱼ + j) for x (n, d): smooth, bounded, of unit scale."""
    phases = np.arange(x.shape[1])
    return np.sin(np.pi * frequency * x + phases).sum(axis=1) / np.sqrt(x.shape[1])


def function(
    n_train: int, n_test: int, dim: int, frequency: float, noise: float, seed: int
) -> xr.Dataset:
    """Regression of a smooth function: x uniform in [−1, 1]^dim, y = f(x) + noise·ε.

    f is :func:`smooth_function` with frequency ω; ε ~ N(0, 1) on the training
    targets only (the test targets are f itself). One real output per sample
    (``task`` ``regression``, ``n_classes`` = ``n_outputs`` = 1), trained with MSE.
    """
    rng = np.random.default_rng(seed % 2**63)
    x = rng.uniform(-1.0, 1.0, size=(n_train + n_test, dim))
    y = smooth_function(x, frequency)
    y[:n_train] += noise * rng.standard_normal(n_train)
    return _as_dataset(
        x[:n_train],
        y[:n_train],
        x[n_train:],
        y[n_train:],
        n_classes=1,
        task="regression",
        description=f"regression of f(x) = sum_j sin(pi {frequency} x_j + j)/sqrt({dim}), "
        f"x uniform in [-1, 1]^{dim}, training noise {noise}",
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

    Entries that differ only in ``train_size`` (or in ``images``, the same digits
    served flat or as images) therefore share one split and one test set, and the
    smaller training sets are prefixes of the larger ones (a nested
    training-set-size sweep); the entry's name plays no part.
    """
    kept = {k: v for k, v in spec.items() if k not in ("train_size", "images")}
    return derive_seed(base_seed, "data", kept)


def _file_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a .npz (``allow_pickle=False``) or netCDF file, by name."""
    if not path.is_file():
        raise InputError(f"{path}: data file not found")
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                return {k: npz[k] for k in npz.files}
        with xr.open_dataset(path) as ds:
            return {k: ds[k].values for k in ds.data_vars}
    except Exception as err:  # a damaged file, object arrays in a .npz, not netCDF
        raise InputError(f"{path}: not a readable .npz or netCDF file: {err}") from None


def _checked_labels(path: Path, name: str, y: np.ndarray, n: int) -> np.ndarray:
    if y.shape != (n,):
        raise InputError(f"{path}: array {name!r} has shape {list(y.shape)}, expected [{n}]")
    if not np.issubdtype(y.dtype, np.number) or not np.all(np.isfinite(y)):
        raise InputError(f"{path}: array {name!r} holds non-numeric or non-finite labels")
    if np.any(y != np.round(y)) or np.any(y < 0):
        raise InputError(f"{path}: array {name!r}: class labels must be integers 0, 1, 2, ...")
    return y.astype(np.int64)


def from_file(
    path: str,
    test_fraction: float,
    seed: int,
    standardise: bool = True,
    task: str = "classification",
) -> xr.Dataset:
    """The user's data set from ``path``: arrays ``x`` (n, ...) and ``y`` (n,) of class
    labels 0..K−1, and optionally ``x_test``/``y_test`` (else a seeded, stratified split
    of ``test_fraction``). Inputs are standardised with training statistics when
    ``standardise``. Any missing array, wrong shape, non-finite value or label out of
    range is an :class:`InputError` naming the file and the array.
    """
    if task != "classification":
        raise InputError(f"{path}: task {task!r}: only 'classification' is supported")
    file = Path(path)
    arrays = _file_arrays(file)
    for name in ("x", "y"):
        if name not in arrays:
            raise InputError(
                f"{file}: missing array {name!r} (found {sorted(arrays)}; expected x (n, ...), "
                "y (n,), optionally x_test, y_test)"
            )
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise InputError(f"{file}: give both x_test and y_test, or neither")
    x = arrays["x"]
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.number):
        raise InputError(f"{file}: array 'x' has shape {list(x.shape)}, expected (n, features...)")
    y = _checked_labels(file, "y", arrays["y"], len(x))
    if "x_test" in arrays:
        x_te = arrays["x_test"]
        if x_te.shape[1:] != x.shape[1:]:
            raise InputError(
                f"{file}: array 'x_test' has samples of shape {list(x_te.shape[1:])}, "
                f"'x' of {list(x.shape[1:])}"
            )
        x_tr, y_tr, y_te = x, y, _checked_labels(file, "y_test", arrays["y_test"], len(x_te))
    else:
        from sklearn.model_selection import train_test_split

        x_tr, x_te, y_tr, y_te = train_test_split(
            x, y, test_size=test_fraction, random_state=seed % 2**32, stratify=y
        )
    for name, values in (("x", x_tr), ("x_test", x_te)):
        if not np.all(np.isfinite(values)):
            raise InputError(f"{file}: array {name!r} holds NaN or infinite values")
    x_tr = x_tr.reshape(len(x_tr), -1).astype(np.float64)
    x_te = x_te.reshape(len(x_te), -1).astype(np.float64)
    if standardise:
        mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
        std[std == 0] = 1.0
        x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    n_classes = int(max(y_tr.max(), y_te.max())) + 1
    return _as_dataset(
        x_tr,
        y_tr,
        x_te,
        y_te,
        n_classes=n_classes,
        description=f"user data file {file.name}" + (", standardised" if standardise else ""),
        input_shape_json=json.dumps(list(x.shape[1:])),
    )


def make_dataset(spec: dict, seed: int, name: str = "dataset") -> xr.Dataset:
    """Build the data set a config entry ``datasets.<name>`` describes (``kind`` plus its keys).

    An optional ``train_size`` (absent or null: all) keeps the first training samples.
    """
    kwargs = {k: v for k, v in spec.items() if k not in ("kind", "train_size")}
    builders = {
        "digits": digits,
        "teacher_student": teacher_student,
        "file": from_file,
        "function": function,
    }
    ds = builders[spec["kind"]](**kwargs, seed=seed)
    ds.attrs["kind"] = spec["kind"]
    if spec.get("train_size") is not None:
        ds = first_train_samples(ds, spec["train_size"], f"config datasets.{name}.train_size")
    return ds
