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
