"""User data files (data.from_file) checked in the data module's own tests (issue 19).

Mutation testing found from_file unreached by tests/test_data.py (its tests
live with the network interface): images flattened, test arrays kept, the
split stratified and standardised with training statistics, a task other
than classification refused.
"""

import numpy as np
import pytest

from statmech_nn.data import from_file
from statmech_nn.errors import InputError


def _write(tmp_path, **arrays):
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    return str(path)


def test_given_test_arrays_are_flattened_and_standardised_with_training_statistics(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (40, 2, 3))
    y = np.arange(40) % 4
    x_test = rng.normal(3.0, 2.0, (7, 2, 3))
    ds = from_file(_write(tmp_path, x=x, y=y, x_test=x_test, y_test=np.arange(7) % 4), 0.5, 0)
    flat, flat_test = x.reshape(40, -1), x_test.reshape(7, -1)
    mean, std = flat.mean(0), flat.std(0)
    np.testing.assert_allclose(ds.x_train.values, (flat - mean) / std, rtol=1e-12)
    np.testing.assert_allclose(ds.x_test.values, (flat_test - mean) / std, rtol=1e-12)
    np.testing.assert_array_equal(ds.y_test.values, np.arange(7) % 4)
    raw = from_file(_write(tmp_path, x=x, y=y), 0.25, 3, standardise=False)
    assert raw.sizes["test_sample"] == 10 and raw.sizes["feature"] == 6
    # stratified: every class keeps its share in the test set
    assert np.bincount(raw.y_test.values.astype(int)).tolist() == [2, 3, 2, 3] or sorted(
        np.bincount(raw.y_test.values.astype(int))
    ) == [2, 2, 3, 3]
    both = np.concatenate([raw.x_train.values, raw.x_test.values])
    np.testing.assert_allclose(np.sort(both, axis=0), np.sort(flat, axis=0), rtol=0, atol=0)


def test_only_classification_is_supported(tmp_path):
    path = _write(tmp_path, x=np.zeros((4, 2)), y=np.arange(4) % 2)
    with pytest.raises(InputError, match="task 'regression': only 'classification'"):
        from_file(path, 0.5, 0, task="regression")
    with pytest.raises(InputError, match=r"array 'y' holds non-numeric or non-finite labels"):
        from_file(_write(tmp_path, x=np.zeros((4, 2)), y=np.array(["a", "b", "a", "b"])), 0.5, 0)


def test_digits_served_as_images_share_the_split_of_flat_digits():
    from statmech_nn.data import split_seed

    flat = {"kind": "digits", "test_fraction": 0.25}
    assert split_seed(7, {**flat, "images": True}) == split_seed(7, flat)
    assert split_seed(7, {**flat, "train_size": 100}) == split_seed(7, flat)
    assert split_seed(7, {**flat, "test_fraction": 0.3}) != split_seed(7, flat)
    assert split_seed(8, flat) != split_seed(7, flat)


def test_file_errors_name_the_file_and_the_description_says_what_was_done(tmp_path):
    path = _write(tmp_path, x=np.zeros((4, 2)), y=np.array(["a", "b", "a", "b"]))
    with pytest.raises(InputError) as err:
        from_file(path, 0.5, 0)
    assert str(err.value).startswith(path)
    good = _write(tmp_path, x=np.arange(16.0).reshape(8, 2), y=np.arange(8) % 2)
    assert from_file(good, 0.25, 0).attrs["description"] == "user data file mine.npz, standardised"
    raw = from_file(good, 0.25, 0, standardise=False)
    assert raw.attrs["description"] == "user data file mine.npz"


def test_input_shape_is_recorded_for_flat_and_image_digits_and_for_files(tmp_path):
    import json

    from statmech_nn.data import digits

    assert json.loads(digits(0.25, 0).attrs["input_shape_json"]) == [64]
    assert json.loads(digits(0.25, 0, images=True).attrs["input_shape_json"]) == [1, 8, 8]
    x = np.random.default_rng(1).normal(size=(12, 2, 3, 4))
    ds = from_file(_write(tmp_path, x=x, y=np.arange(12) % 3), 0.25, 0)
    assert json.loads(ds.attrs["input_shape_json"]) == [2, 3, 4]
    assert ds.sizes["feature"] == 24


def test_a_missing_data_file_is_named_in_the_error(tmp_path):
    missing = tmp_path / "nowhere" / "mine.npz"
    with pytest.raises(InputError, match="data file not found") as err:
        from_file(str(missing), 0.5, 0)
    assert str(missing) in str(err.value)


def test_a_pixel_constant_on_the_training_split_is_centred_not_rescaled():
    """Such a pixel keeps its raw offset from the training mean on the test split (divided
    by 1, not by a made-up spread); the others are (raw − mean) / std."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from statmech_nn.data import digits

    x, y = load_digits(return_X_y=True)
    x_tr, x_te, _, _ = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    mean, std = x_tr.mean(0), x_tr.std(0)
    constant = std == 0
    varying_on_test = constant & (x_te.std(0) > 0)
    assert varying_on_test.any()  # seed 0 has one: pixel rarely lit, none in the training split
    ds = digits(0.25, 0)
    np.testing.assert_allclose(ds.x_test.values[:, constant], (x_te - mean)[:, constant], atol=0)
    np.testing.assert_allclose(ds.x_train.values[:, constant], 0.0, atol=0)
    scaled = (x_te[:, ~constant] - mean[~constant]) / std[~constant]
    np.testing.assert_allclose(ds.x_test.values[:, ~constant], scaled, rtol=1e-12)


def test_a_file_feature_constant_on_the_training_split_is_centred_not_rescaled(tmp_path):
    rng = np.random.default_rng(2)
    x, x_test = rng.normal(size=(20, 3)), rng.normal(size=(6, 3))
    x[:, 1] = 4.0  # constant in training, not in the given test array
    y, y_test = np.arange(20) % 2, np.arange(6) % 2
    ds = from_file(_write(tmp_path, x=x, y=y, x_test=x_test, y_test=y_test), 0.5, 0)
    np.testing.assert_allclose(ds.x_test.values[:, 1], x_test[:, 1] - 4.0, rtol=1e-12)
    np.testing.assert_allclose(ds.x_train.values[:, 1], 0.0, atol=0)
