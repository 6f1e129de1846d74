"""Overlaps, weight-matching alignment, barriers and basins against exact answers.

Small MLPs in float64 (a few hundred parameters), seeded; tolerances stated per test.
"""

import numpy as np
import pytest
import torch
import xarray as xr

from statmech_nn import overlap as ov
from statmech_nn.errors import InputError
from statmech_nn.models import Model

ARCHS = ["mlp-d1-w6-tanh", "mlp-d3-w5-relu", "mlp-d2-w4-gelu"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(arch: str) -> Model:
    return Model.build(arch, 3, 2)


def _data(n: int = 20, dim: int = 3, classes: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=torch.float64), torch.randint(
        0, classes, (n,), generator=gen
    )


def _random_perm(model: Model, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {g: rng.permutation(len(p)) for g, p in ov.identity_permutation(model).items()}


@pytest.mark.parametrize("arch", ARCHS)
def test_permutation_and_alignment_preserve_the_function(arch):
    model = _model(arch)
    x, _ = _data()
    a, b = model.init(1, torch.float64), model.init(2, torch.float64)
    permuted = ov.permute(model, b, _random_perm(model, 3))
    assert not torch.allclose(permuted, b)
    perm, _ = ov.weight_matching(model, a, b)
    aligned = ov.permute(model, b, perm)
    for theta in (permuted, aligned):
        torch.testing.assert_close(model.forward(theta, x), model.forward(b, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_alignment_never_lowers_its_objective(arch):
    model = _model(arch)
    for seed in range(3):
        a, b = model.init(10 + seed, torch.float64), model.init(20 + seed, torch.float64)
        perm, sweeps = ov.weight_matching(model, a, b)
        before = ov.matching_objective(a, b)
        after = ov.matching_objective(a, ov.permute(model, b, perm))
        assert after >= before - 1e-12
        assert sweeps >= 1


@pytest.mark.parametrize("arch", ARCHS)
def test_permuted_copy_has_overlap_one_after_alignment(arch):
    model = _model(arch)
    a = model.init(5, torch.float64)
    b = ov.permute(model, a, _random_perm(model, 6))
    raw, _ = ov.pair_overlaps(model, a, b)
    assert raw < 1 - 1e-3
    perm, _ = ov.weight_matching(model, a, b)
    q, per_layer = ov.pair_overlaps(model, a, ov.permute(model, b, perm))
    assert abs(float(q) - 1) < 1e-10
    torch.testing.assert_close(per_layer, torch.ones_like(per_layer), atol=1e-10, rtol=0)


def test_perceptron_has_nothing_to_permute():
    model = Model.build("perceptron", 3, 2)
    a, b = model.init(1, torch.float64), model.init(2, torch.float64)
    perm, sweeps = ov.weight_matching(model, a, b)
    assert perm == {} and sweeps == 0
    torch.testing.assert_close(ov.permute(model, b, perm), b)


def test_overlaps_of_identical_replicas_are_one():
    model = _model("mlp-d2-w4-tanh")
    theta = model.init(0, torch.float64).expand(4, -1)
    q = ov.overlap_matrix(theta)
    torch.testing.assert_close(q, torch.ones(4, 4, dtype=torch.float64), atol=1e-12, rtol=0)
    per_layer = ov.layer_overlaps(model, theta)
    assert per_layer.shape == (3, 4, 4)
    torch.testing.assert_close(per_layer, torch.ones_like(per_layer), atol=1e-12, rtol=0)
    assert ov.pair_values(q).shape == (6,)


def test_overlap_matrix_matches_definition():
    theta = torch.randn(3, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    q = ov.overlap_matrix(theta)
    expected = theta[0] @ theta[2] / (theta[0].norm() * theta[2].norm())
    assert abs(float(q[0, 2] - expected)) < 1e-14
    np.testing.assert_array_equal(ov.pair_values(q), q.numpy()[[0, 0, 1], [1, 2, 2]])


def test_barrier_between_identical_points_is_zero():
    model = _model("mlp-d2-w4-tanh")
    x, y = _data()
    theta = model.init(0, torch.float64)
    t = torch.linspace(0, 1, 7, dtype=torch.float64)
    from statmech_nn.landscape import interpolate

    path = interpolate(model, theta, theta, t, x, y, "cross_entropy").loss
    assert abs(float(ov.barrier(path))) < 1e-12
    # a hand-made path: max 3 above endpoints 1 and 2 -> 3 − 1.5
    assert float(ov.barrier(torch.tensor([1.0, 3.0, 2.0]))) == pytest.approx(1.5)


def test_basins_count_on_hand_built_barriers():
    # 5 replicas: {0, 1, 2} linked by low barriers (0–1, 1–2), {3}, {4}; 0–2 high.
    a, b = ov.pair_indices(5)
    barriers = np.full(len(a), 10.0)
    low = {(0, 1): 0.01, (1, 2): 0.0}
    for k, (i, j) in enumerate(zip(a, b, strict=True)):
        barriers[k] = low.get((i, j), barriers[k])
    n, labels = ov.basins(5, a, b, barriers, threshold=0.05)
    assert n == 3
    assert labels[0] == labels[1] == labels[2] != labels[3] != labels[4]
    assert ov.basins(5, a, b, np.zeros(len(a)), 0.05)[0] == 1
    assert ov.basins(5, a, b, barriers, threshold=0.0)[0] == 5  # strict: barrier 0 is not < 0


def _train_file(model: Model, thetas: torch.Tensor, status: list[str]) -> xr.Dataset:
    r = thetas.shape[0]
    return xr.Dataset(
        {
            "params": (("replica", "param"), thetas.numpy()),
            "status": (("replica",), np.array(status, dtype=object)),
        },
        coords={"replica": np.arange(r)},
        attrs={
            "arch": model.arch.name,
            "in_dim": model.in_dim,
            "out_dim": model.out_dim,
            "loss": "cross_entropy",
        },
    )


def test_study_dataset_and_unhealthy_replicas(caplog):
    model = _model("mlp-d2-w4-tanh")
    x, y = _data()
    base = model.init(0, torch.float64)
    thetas = torch.stack(
        [base, ov.permute(model, base, _random_perm(model, 1)), model.init(7, torch.float64)]
        + [model.init(8, torch.float64)]
    )
    data = xr.Dataset({"x_train": (("s", "f"), x.numpy()), "y_train": (("s",), y.numpy())})
    train = _train_file(model, thetas, ["ok", "ok", "ok", "diverged"])
    with caplog.at_level("WARNING"):
        ds = ov.overlap_study(train, data, 5, 1e-6, 8.0, "float64", source="t.nc")
    assert "replicas [3]" in caplog.text
    assert list(ds["replica_a"].values) == [0, 1, 2]
    assert ds.sizes == {
        "alignment": 2,
        "replica_a": 3,
        "replica_b": 3,
        "replica": 3,
        "pair": 3,
        "layer": 3,
        "t": 5,
        "threshold": 21,
    }
    q = ds["q"].sel(alignment="aligned", replica_a=0, replica_b=1)
    assert abs(float(q) - 1) < 1e-10
    assert abs(float(ds["barrier"].sel(alignment="aligned", pair=0))) < 1e-10
    assert (ds["objective"].sel(alignment="aligned") >= ds["objective"].sel(alignment="raw")).all()
    assert int(ds["n_basins"]) == 2  # {0, 1} and {2}
    # over thresholds: {0, 1} (one network, permuted: barrier 0) joins {2} once the cut
    # passes their barrier, and never splits again
    by_cut = ds["n_basins_by_threshold"]
    assert (by_cut.diff("threshold") <= 0).all()
    assert int(by_cut[0]) == 2 and int(by_cut[-1]) == 1
    for name, var in ds.variables.items():
        if name not in ds.dims or name in ("t", "threshold"):
            assert "long_name" in var.attrs and "units" in var.attrs, name
    with pytest.raises(InputError, match="t.nc"):
        ov.overlap_study(_train_file(model, thetas, ["ok"] + ["diverged"] * 3), data, 5, 0.1, 8.0,
                         "float64", source="t.nc")  # fmt: skip


def test_one_replica_config_names_train_replicas(workflow_copy):
    from conftest import snakemake

    (workflow_copy / "bad.yaml").write_text("train:\n  replicas: 1\n")
    proc = snakemake(workflow_copy, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert "config train.replicas: 1 is not allowed (allowed: >= 2" in proc.stdout + proc.stderr


def test_batched_alignment_equals_pairwise_matching():
    model = _model("mlp-d3-w5-relu")
    theta = model.init_replicas(list(range(4)), torch.float64)
    a, b = ov.pair_indices(4)
    aligned, sweeps = ov.align_pairs(model, theta, a, b)
    for k, (i, j) in enumerate(zip(a, b, strict=True)):
        perm, n = ov.weight_matching(model, theta[i], theta[j])
        torch.testing.assert_close(aligned[k], ov.permute(model, theta[j], perm), atol=0, rtol=0)
        assert sweeps[k] == n
    index = ov.permutation_index(model, perm)
    torch.testing.assert_close(theta[j][index], ov.permute(model, theta[j], perm), atol=0, rtol=0)


@pytest.mark.parametrize("arch", ["mlp-d2-w4-tanh", "perceptron"])
def test_path_losses_equal_the_full_interpolation(arch):
    """Endpoints once per replica, interior in one batch: the same as every path in full."""
    from statmech_nn.landscape import interpolate

    model = _model(arch)
    x, y = _data()
    theta = model.init_replicas(list(range(4)), torch.float64)
    a, b = ov.pair_indices(4)
    aligned, _ = ov.align_pairs(model, theta, a, b)
    ends = torch.stack([theta[b], aligned])
    t = torch.linspace(0, 1, 6, dtype=torch.float64)
    path = ov.path_losses(model, theta, a, b, ends, t, x, y, "cross_entropy", 0.01)
    full = interpolate(model, theta[a], ends, t, x, y, "cross_entropy").loss
    assert path.shape == (2, 6, 6)
    torch.testing.assert_close(path, full, atol=1e-12, rtol=0)
