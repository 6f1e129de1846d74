import numpy as np
import pytest
import torch

from statmech_nn.data import digits, make_dataset, split_seed, teacher_student
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model


def test_digits_split_and_standardisation():
    ds = digits(test_fraction=0.25, seed=0)
    assert ds.sizes == {"train_sample": 1347, "test_sample": 450, "feature": 64}
    x = ds["x_train"].values
    used = x.std(axis=0) > 0
    np.testing.assert_allclose(x.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x[:, used].std(axis=0), 1, atol=1e-12)
    assert set(np.unique(ds["y_test"])) == set(range(10))
    assert ds.attrs["n_classes"] == 10
    assert all(ds[v].attrs["long_name"] for v in ds.data_vars)


def test_digits_split_is_fixed_by_the_seed():
    a, b, c = digits(0.25, 1), digits(0.25, 1), digits(0.25, 2)
    np.testing.assert_array_equal(a["x_train"], b["x_train"])
    assert not np.array_equal(a["x_train"], c["x_train"])


def test_teacher_student_labels_come_from_the_teacher():
    ds = teacher_student(
        n_train=300, n_test=100, dim=10, teacher="perceptron", label_noise=0.0, seed=3
    )
    assert ds.sizes == {"train_sample": 300, "test_sample": 100, "feature": 10}
    # The teacher is the first draw of the generator: rebuild it and check every label.
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(10, generator=gen, dtype=torch.float64)
    x = torch.as_tensor(ds["x_test"].values)
    np.testing.assert_array_equal((x @ w > 0).long().numpy(), ds["y_test"].values)


def test_label_noise_flips_about_that_fraction_of_training_labels():
    clean = teacher_student(4000, 10, 5, "perceptron", 0.0, seed=1)
    noisy = teacher_student(4000, 10, 5, "perceptron", 0.2, seed=1)
    flipped = (clean["y_train"].values != noisy["y_train"].values).mean()
    assert abs(flipped - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 4000)


def test_mlp_teacher_and_make_dataset():
    ds = make_dataset(
        {
            "kind": "teacher_student",
            "n_train": 50,
            "n_test": 20,
            "dim": 6,
            "teacher": "mlp-d1-w8",
            "label_noise": 0.0,
        },
        seed=0,
    )
    assert ds.attrs["n_classes"] == 2
    assert Model.build("mlp-d1-w8", 6, 1).n_params == 6 * 8 + 8 + 8 + 1


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "digits", "test_fraction": 0.25},
        {"kind": "teacher_student", "n_train": 60, "n_test": 20, "dim": 4,
         "teacher": "perceptron", "label_noise": 0.1},
    ],
    ids=["digits", "teacher_student"],
)  # fmt: skip
def test_train_size_keeps_the_first_samples_of_the_same_split(spec):
    full = make_dataset(spec, seed=4)
    part = make_dataset({**spec, "train_size": 25}, seed=4)
    again = make_dataset({**spec, "train_size": 25}, seed=4)
    assert part.sizes["train_sample"] == 25 and part.attrs["n_train"] == 25
    assert full.attrs["n_train"] == full.sizes["train_sample"]
    assert part.attrs["kind"] == spec["kind"]
    for name in ("x_train", "y_train"):
        np.testing.assert_array_equal(part[name].values, full[name].values[:25])
        np.testing.assert_array_equal(part[name].values, again[name].values)
    for name in ("x_test", "y_test"):  # the held-out set does not shrink
        np.testing.assert_array_equal(part[name].values, full[name].values)
    same = make_dataset({**spec, "train_size": None}, seed=4)
    np.testing.assert_array_equal(same["x_train"].values, full["x_train"].values)


def test_entries_differing_only_in_train_size_share_one_split():
    spec = {"kind": "digits", "test_fraction": 0.25}
    seed = split_seed(0, spec)
    assert seed == split_seed(0, {**spec, "train_size": 300}) != split_seed(1, spec)
    assert seed != split_seed(0, {**spec, "test_fraction": 0.3})
    small = make_dataset(
        {**spec, "train_size": 300}, seed=split_seed(0, {**spec, "train_size": 300})
    )
    full = make_dataset(spec, seed=seed)
    np.testing.assert_array_equal(small["x_train"].values, full["x_train"].values[:300])
    np.testing.assert_array_equal(small["y_test"].values, full["y_test"].values)


def test_too_large_train_size_names_the_key():
    spec = {"kind": "digits", "test_fraction": 0.25, "train_size": 5000}
    with pytest.raises(InputError, match=r"config datasets\.digits_big\.train_size: 5000 .* 1347"):
        make_dataset(spec, seed=0, name="digits_big")


def test_label_noise_flips_training_labels_only():
    """With noise on, the test labels stay the teacher's (a noisy test set would bias every
    generalisation curve); the training labels flip in about that fraction (4 binomial
    standard errors), each flipped one being the teacher's other class."""
    dim, n_train, n_test, noise = 6, 3000, 2000, 0.3
    noisy = teacher_student(n_train, n_test, dim, "perceptron", noise, seed=5)
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(dim, generator=gen, dtype=torch.float64)  # the teacher, the first draw

    def teacher(x):
        return (torch.as_tensor(x) @ w > 0).long().numpy()

    np.testing.assert_array_equal(noisy["y_test"].values, teacher(noisy["x_test"].values))
    clean = teacher(noisy["x_train"].values)
    flipped = noisy["y_train"].values != clean
    assert abs(flipped.mean() - noise) < 4 * np.sqrt(noise * (1 - noise) / n_train)
    np.testing.assert_array_equal(noisy["y_train"].values[flipped], 1 - clean[flipped])
    assert "label noise 0.3 on the training set" in noisy.attrs["description"]
