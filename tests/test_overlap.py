"""Overlaps, weight-matching alignment, barriers and basins against exact answers.

Small MLPs in float64 (a few hundred parameters), seeded; tolerances stated per test.
"""

import itertools

import numpy as np
import pytest
import torch
import xarray as xr

from statmech_nn import overlap as ov
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model

ARCHS = ["mlp-d1-w6-tanh", "mlp-d3-w5-relu", "mlp-d2-w4-gelu"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _model(arch: str) -> Model:
    return Model.build(arch, 3, 2)


def _data(n: int = 20, dim: int = 3, classes: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, dim, generator=gen, dtype=torch.float64), torch.randint(
        0, classes, (n,), generator=gen
    )


def _random_perm(model: Model, seed: int) -> list[np.ndarray]:
    """One random permutation per hidden layer (a sequence in layer order: permute takes it)."""
    rng = np.random.default_rng(seed)
    return [rng.permutation(model.arch.width) for _ in range(model.arch.depth)]


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


# ------------------------------------------------------------ realistic pairs and brute force


def _trained(arch: str, seeds: list[int], epochs: int = 6) -> tuple[Model, torch.Tensor]:
    """Replicas of ``arch`` trained independently (SGD on a perceptron teacher's labels): (R, P)."""
    from statmech_nn.train import TrainSettings, train_replicas

    gen = torch.Generator().manual_seed(9)
    x = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    y = (x @ torch.randn(3, generator=gen, dtype=torch.float64) > 0).long()
    model = Model.build(arch, 3, 2)
    settings = TrainSettings(epochs=epochs, batch_size=10, optimizer="sgd", lr=0.3, momentum=0.9)
    return model, train_replicas(model, x, y, x, y, settings, seeds).params


def _hidden_permutations(model: Model) -> list[np.ndarray]:
    return [np.array(p) for p in itertools.permutations(range(model.arch.width))]


def _all_permutations(model: Model) -> list[list[np.ndarray]]:
    """Every combination of hidden-unit permutations of a tiny network (width! ** depth)."""
    return [
        list(c) for c in itertools.product(_hidden_permutations(model), repeat=model.arch.depth)
    ]


def _objectives(model: Model, a: torch.Tensor, b: torch.Tensor, perms) -> torch.Tensor:
    """⟨θa, π(θb)⟩ for every π of ``perms``, by brute force."""
    index = torch.stack([ov.permutation_index(model, p) for p in perms])
    return ov.matching_objective(a, b[index])


def test_pair_overlaps_of_trained_replicas_with_unequal_norms():
    """q = ⟨θa, θb⟩/(|θa||θb|), total and per layer, for trained replicas whose norms differ
    (b scaled by 3: a normalisation by |θa|² or |θb|² instead of |θa||θb| is off by 3)."""
    model, theta = _trained("mlp-d2-w4-tanh", [1, 2])
    a, b = theta[0], 3.0 * theta[1]
    assert b.norm() > 2 * a.norm()
    q, per_layer = ov.pair_overlaps(model, a, b)
    an, bn = a.numpy(), b.numpy()
    want = an @ bn / (np.linalg.norm(an) * np.linalg.norm(bn))
    assert abs(float(q) - want) < 1e-13 and abs(want) > 0.05
    for layer, idx in enumerate(ov.layer_slices(model)):
        ua, ub = an[idx.numpy()], bn[idx.numpy()]
        assert float(per_layer[layer]) == pytest.approx(
            ua @ ub / (np.linalg.norm(ua) * np.linalg.norm(ub)), abs=1e-13
        )
    names = np.asarray(model.param_tensor)
    assert [sorted(set(names[i.numpy()])) for i in ov.layer_slices(model)] == [
        [f"layer{k}.bias", f"layer{k}.weight"] for k in range(3)
    ]
    matrix = ov.overlap_matrix(torch.stack([a, b, -0.5 * a]))
    assert float(matrix[0, 1]) == pytest.approx(want, abs=1e-13)
    assert float(matrix[0, 2]) == pytest.approx(-1.0, abs=1e-13)
    torch.testing.assert_close(matrix.diagonal(), torch.ones(3, dtype=torch.float64))


@pytest.mark.parametrize("arch", ["mlp-d2-w4-relu", "mlp-d3-w3-tanh"])
def test_weight_matching_recovers_a_planted_permutation_the_brute_force_optimum(arch):
    """b = 1.7·π(a) + noise, a a trained network with ≥ 2 hidden layers: the exhaustive
    search over all permutations of the tiny network puts the optimum of ⟨θa, π'(θb)⟩ at
    the planted π⁻¹, and weight matching must reach exactly that permutation and value."""
    model, theta = _trained(arch, [5])
    a = theta[0]
    planted = _random_perm(model, 8)
    assert all(not np.array_equal(p, np.arange(model.arch.width)) for p in planted)
    gen = torch.Generator().manual_seed(1)
    noise = 0.05 * a.abs().mean() * torch.randn(model.n_params, generator=gen, dtype=a.dtype)
    b = 1.7 * ov.permute(model, a, planted) + noise
    perms = _all_permutations(model)
    objectives = _objectives(model, a, b, perms)
    best = int(objectives.argmax())
    inverse = [np.argsort(p) for p in planted]
    assert all(np.array_equal(p, q) for p, q in zip(perms[best], inverse, strict=True))
    perm = list(ov.weight_matching(model, a, b)[0].values())
    assert all(np.array_equal(p, q) for p, q in zip(perm, inverse, strict=True))
    aligned = ov.permute(model, b, perm)
    assert float(ov.matching_objective(a, aligned)) == pytest.approx(float(objectives[best]))
    x, _ = _data()
    torch.testing.assert_close(model.forward(aligned, x), model.forward(b, x), atol=1e-12, rtol=0)
    q, per_layer = ov.pair_overlaps(model, a, aligned)
    assert float(q) > 0.99 and (per_layer > 0.99).all()


@pytest.mark.parametrize("arch", ["mlp-d2-w4-tanh", "mlp-d3-w3-tanh"])
def test_weight_matching_of_trained_replicas_is_optimal_layer_by_layer(arch):
    """Independently trained replicas (no planted answer): the matching stops where no layer's
    permutation alone can raise the objective (checked exhaustively per layer), and never
    above the exhaustive optimum over all layers at once."""
    model, theta = _trained(arch, [11, 12, 13])
    perms, one_layer = _all_permutations(model), _hidden_permutations(model)
    for i, j in [(0, 1), (1, 2), (0, 2)]:
        a, b = theta[i], theta[j]
        perm = list(ov.weight_matching(model, a, b)[0].values())
        reached = float(ov.matching_objective(a, ov.permute(model, b, perm)))
        assert reached <= float(_objectives(model, a, b, perms).max()) + 1e-12
        for layer in range(model.arch.depth):
            variants = [[*perm[:layer], p, *perm[layer + 1 :]] for p in one_layer]
            best_here = float(_objectives(model, a, b, variants).max())
            assert reached == pytest.approx(best_here, rel=1e-12, abs=1e-12), (i, j, layer)
        assert reached > float(ov.matching_objective(a, b))


def test_batched_overlaps_pair_values_and_permutations_equal_each_slice():
    """Leading dimensions (…, R, P) are independent: each slice as if alone."""
    model = _model("mlp-d2-w4-tanh")
    theta = torch.stack(
        [model.init_replicas([3 * k, 3 * k + 1, 3 * k + 2], torch.float64) for k in range(4)]
    )  # (4, 3, P): leading size differs from R
    q = ov.overlap_matrix(theta)
    assert q.shape == (4, 3, 3)
    values = ov.pair_values(q)
    assert values.shape == (4, 3)
    assert ov.pair_values(q.expand(2, 4, 3, 3)).shape == (2, 4, 3)
    perm = _random_perm(model, 2)
    permuted = ov.permute(model, theta, perm)
    for k in range(4):
        torch.testing.assert_close(q[k], ov.overlap_matrix(theta[k]), atol=1e-15, rtol=0)
        np.testing.assert_array_equal(values[k], ov.pair_values(q[k]))
        for r in range(3):
            torch.testing.assert_close(permuted[k, r], ov.permute(model, theta[k, r], perm))


def test_align_pairs_aligns_one_hidden_layer_and_a_single_pair():
    model = _model("mlp-d1-w6-tanh")
    a = model.init(4, torch.float64)
    theta = torch.stack([a, ov.permute(model, a, _random_perm(model, 5))])
    aligned, sweeps = ov.align_pairs(model, theta, *ov.pair_indices(2))
    torch.testing.assert_close(aligned[0], a, atol=0, rtol=0)
    assert sweeps.tolist() == [2]  # one sweep that recovers the permutation, one that confirms


def test_matching_counts_its_sweeps_and_stops_when_nothing_changes():
    model = _model("mlp-d3-w5-relu")
    a, b = model.init(1, torch.float64), model.init(2, torch.float64)
    perm, sweeps = ov.weight_matching(model, a, a)  # already aligned: one sweep, no change
    assert sweeps == 1 and all(np.array_equal(p, np.arange(5)) for p in perm.values())
    _, sweeps = ov.weight_matching(model, a, b)
    assert 2 <= sweeps < 100
    _, one = ov.weight_matching(model, a, b, max_sweeps=1)
    assert one == 1
    perceptron = Model.build("perceptron", 3, 2)
    theta = perceptron.init_replicas([1, 2, 3], torch.float64)
    aligned, sweeps = ov.align_pairs(perceptron, theta, *ov.pair_indices(3))
    assert sweeps.tolist() == [0, 0, 0]
    torch.testing.assert_close(aligned, theta[[1, 2, 2]], atol=0, rtol=0)


def test_overlap_dataset_names_labels_and_values():
    """The Dataset the figures read: exactly these variables, each with a long name and its
    units, values equal to the kernels' (pairs, overlaps, sweeps, paths) and the attrs."""
    model = _model("mlp-d1-w6-tanh")
    x, y = _data()
    theta = model.init_replicas([1, 2, 3], torch.float64)
    ids = np.array([5, 6, 7])
    ds = ov.overlap_dataset(model, theta, x, y, "cross_entropy", ids, 4, 0.01, 8.0)
    assert set(ds.data_vars) == {
        "q", "q_layer", "q_pair", "objective", "path_loss", "barrier", "sweeps",
        "pair_a", "pair_b", "basin", "n_basins", "n_basins_by_threshold",
    }  # fmt: skip
    for name, var in ds.variables.items():
        if name in ds.data_vars or name in ("t", "threshold"):
            assert isinstance(var.attrs["long_name"], str), name
            assert var.attrs["long_name"] not in ("", "1", "nats"), name  # a name, not units
            loss_like = name in ("path_loss", "barrier", "threshold")
            assert var.attrs["units"] == ("nats" if loss_like else "1"), name
    np.testing.assert_array_equal(ds["pair_a"], [5, 5, 6])
    np.testing.assert_array_equal(ds["pair_b"], [6, 7, 7])
    a, b = ov.pair_indices(3)
    aligned, sweeps = ov.align_pairs(model, theta, a, b)
    np.testing.assert_array_equal(ds["sweeps"], sweeps)
    q_raw, layer_raw = ov.pair_overlaps(model, theta[a], theta[b])
    q_al, _ = ov.pair_overlaps(model, theta[a], aligned)
    np.testing.assert_allclose(ds["q_pair"].sel(alignment="raw"), q_raw, atol=1e-14)
    np.testing.assert_allclose(ds["q_pair"].sel(alignment="aligned"), q_al, atol=1e-14)
    q = ds["q"].sel(alignment="raw")
    assert float(q.sel(replica_a=5, replica_b=7)) == pytest.approx(float(q_raw[1]), abs=1e-14)
    np.testing.assert_allclose(q.values, q.values.T, atol=0)
    np.testing.assert_allclose(np.diag(q.values), 1.0, atol=0)
    assert ds["q_layer"].dims == ("alignment", "layer", "replica_a", "replica_b")
    assert list(ds["layer"].values) == ["layer0", "layer1"]
    ql = ds["q_layer"].sel(alignment="raw", layer="layer1", replica_a=6, replica_b=7)
    assert float(ql) == pytest.approx(float(layer_raw[1, 2]), abs=1e-14)
    np.testing.assert_allclose(
        ds["objective"].sel(alignment="aligned"), ov.matching_objective(theta[a], aligned)
    )
    assert ds["t"].dtype == np.float64
    np.testing.assert_allclose(ds["t"], np.linspace(0, 1, 4), atol=1e-15)
    path = ds["path_loss"].sel(alignment="raw")
    np.testing.assert_allclose(
        ds["barrier"].sel(alignment="raw"), ov.barrier(torch.as_tensor(path.values))
    )
    assert ds.attrs == {
        "arch": "mlp-d1-w6-tanh", "depth": 1, "width": 6, "n_params": model.n_params,
        "loss": "cross_entropy", "barrier_threshold": 0.01, "in_dim": 3, "out_dim": 2,
        "input_shape_json": "[3]", "n_outputs": 2, "permutable": 1,
        "alignment": "weight matching (Git Re-Basin)",
    }  # fmt: skip


def test_study_of_exactly_two_healthy_replicas_records_its_data():
    model = _model("mlp-d1-w6-tanh")
    x, y = _data()
    thetas = model.init_replicas([1, 2, 3], torch.float64)
    data = xr.Dataset(
        {"x_train": (("s", "f"), x.numpy()), "y_train": (("s",), y.numpy())},
        attrs={"kind": "teacher_student"},
    )
    train = _train_file(model, thetas, ["ok", "diverged", "ok"])
    train.attrs["dataset"] = "toy"
    ds = ov.overlap_study(train, data, 3, 0.1, 8.0, "float64")
    assert list(ds["replica"].values) == [0, 2] and ds.sizes["pair"] == 1
    assert (ds.attrs["dataset"], ds.attrs["data_kind"], ds.attrs["n_train"]) == (
        "toy",
        "teacher_student",
        20,
    )
    q, _ = ov.pair_overlaps(model, thetas[0], thetas[2])
    assert float(ds["q_pair"].sel(alignment="raw", pair=0)) == pytest.approx(float(q), abs=1e-14)
