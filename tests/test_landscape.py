"""Landscape slices and projected curvature against exact answers.

Exactness checks run in float64 on models with a few dozen parameters, where
the dense Hessian (torch.func.hessian + eigh) is the ground truth; the batched
evaluator is compared with a per-point loop in float32 at 1e-5.
"""

import json
import math

import numpy as np
import pytest
import torch
import xarray as xr

from statmech_nn import landscape as ls
from statmech_nn.errors import InputError
from statmech_nn.nets import MLP as Model
from statmech_nn.train import TrainSettings, evaluate, mean_loss, train_replicas


def _data(n: int, dim: int, classes: int, seed: int, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=gen, dtype=dtype)
    y = torch.randint(0, classes, (n,), generator=gen)
    return x, y


def _row_norms(model: Model, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """Norm of every row of every weight, and of every 1-D tensor, for v (..., P)."""
    return {
        name: t.norm(dim=-1) for name, t in model.unflatten(v).items()
    }  # rows of (.., out, in) or the whole bias


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def mlp():
    model = Model.build("mlp-d2-w6", 5, 3)
    theta = torch.stack([model.init(s, torch.float64) for s in (1, 2)])
    return model, theta


# ------------------------------------------------------------------ directions


@pytest.mark.parametrize("bias", ["zero", "normalise"])
def test_filter_normalised_rows_have_the_norms_of_theta(mlp, bias):
    model, theta = mlp
    d = ls.random_directions(model, theta, 1, "filter", bias, torch.Generator().manual_seed(0))
    got, want = _row_norms(model, d[:, 0]), _row_norms(model, theta)
    for name, shape in model.shapes.items():
        if len(shape) == 1 and bias == "zero":
            assert torch.all(got[name] == 0), name
        else:
            torch.testing.assert_close(got[name], want[name], rtol=1e-12, atol=0)


def test_layer_global_and_unit_normalisation(mlp):
    model, theta = mlp
    gen = torch.Generator().manual_seed(1)
    d = ls.random_directions(model, theta, 1, "layer", "normalise", gen)[:, 0]
    for (name, t), t0 in zip(
        model.unflatten(d).items(), model.unflatten(theta).values(), strict=True
    ):
        torch.testing.assert_close(
            t.flatten(1).norm(dim=-1), t0.flatten(1).norm(dim=-1), rtol=1e-12, atol=0, msg=name
        )
    g = ls.random_directions(model, theta, 1, "global", "normalise", gen)[:, 0]
    torch.testing.assert_close(g.norm(dim=-1), theta.norm(dim=-1), rtol=1e-12, atol=0)
    u = ls.random_directions(model, theta, 1, "unit", "normalise", gen)[:, 0]
    torch.testing.assert_close(u.norm(dim=-1), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("normalisation", ["filter", "layer", "global", "unit"])
@pytest.mark.parametrize("bias", ["zero", "normalise"])
def test_orthogonal_pairs_stay_orthogonal_after_normalisation(mlp, normalisation, bias):
    model, theta = mlp
    gen = torch.Generator().manual_seed(2)
    d = ls.random_directions(model, theta, 2, normalisation, bias, gen)
    cos = torch.nn.functional.cosine_similarity(d[:, 0], d[:, 1], dim=-1)
    assert cos.abs().max() < 1e-12
    if normalisation == "filter":  # and both are still filter-normalised
        for j in range(2):
            got, want = _row_norms(model, d[:, j]), _row_norms(model, theta)
            torch.testing.assert_close(
                got["layer1.weight"], want["layer1.weight"], rtol=1e-12, atol=0
            )


@pytest.mark.parametrize("normalisation", ["filter", "layer", "unit"])
def test_random_directions_are_orthogonal_to_several_given_rows(mlp, normalisation):
    """Against two rows (per replica) orthonormal as whole vectors but not group by group
    (e.g. two Hessian eigenvectors), each drawn direction is orthogonal to both: projecting
    on one row after the other within a group would bring the first one back."""
    model, theta = mlp
    gen = torch.Generator().manual_seed(5)
    rows = torch.linalg.qr(
        torch.randn(theta.shape[0], model.n_params, 2, generator=gen, dtype=torch.float64)
    ).Q.transpose(-1, -2)  # (R, 2, P), orthonormal rows per replica
    d = ls.random_directions(model, theta, 2, normalisation, "normalise", gen, against=rows)
    for j in range(2):
        for i in range(2):
            cos = torch.nn.functional.cosine_similarity(d[:, j], rows[:, i], dim=-1)
            assert cos.abs().max() < 1e-12, (j, i, cos)
    cos = torch.nn.functional.cosine_similarity(d[:, 0], d[:, 1], dim=-1)
    assert cos.abs().max() < 1e-12


def test_global_orthogonalisation_then_filter_normalisation_is_not_orthogonal(mlp):
    """The bug the within-group construction avoids (why the test above matters)."""
    model, theta = mlp
    gen = torch.Generator().manual_seed(3)
    g = torch.randn(2, 2, model.n_params, generator=gen, dtype=torch.float64)
    g1 = g[:, 0]
    g2 = g[:, 1] - (g[:, 1] * g1).sum(-1, keepdim=True) / g1.pow(2).sum(-1, keepdim=True) * g1
    d1, d2 = (ls.normalise_direction(model, v, theta, "filter") for v in (g1, g2))
    cos = torch.nn.functional.cosine_similarity(d1, d2, dim=-1)
    assert cos.abs().min() > 1e-3


def test_pca_recovers_the_plane_of_a_planar_trajectory():
    gen = torch.Generator().manual_seed(4)
    p, s = 30, 12
    basis, _ = torch.linalg.qr(torch.randn(p, 2, generator=gen, dtype=torch.float64))
    final = torch.randn(p, generator=gen, dtype=torch.float64)
    coef = torch.randn(s, 2, generator=gen, dtype=torch.float64) * torch.tensor([3.0, 1.0])
    snaps = final + coef @ basis.T
    pcs, ratio = ls.pca_directions(snaps[None], final[None])
    # the principal plane is the trajectory's plane, and the variance is all in it
    proj = pcs[0] @ basis
    torch.testing.assert_close(torch.linalg.svdvals(proj), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(ratio.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert ratio[0, 0] > ratio[0, 1]


def test_pca_of_a_curved_training_trajectory_equals_the_svd_of_its_centred_offsets():
    """A real trajectory (two replicas of an MLP trained by SGD, 9 snapshots) is curved and
    lies on one side of its end point: its offsets θₛ − θ_final have a large mean, so
    skipping the centring would turn the first direction towards that mean. Reference:
    NumPy's SVD of the centred offsets; directions agree up to sign, ratios exactly."""
    x, y = _data(60, 5, 3, seed=6)
    model = Model.build("mlp-d2-w5-tanh", 5, 3)
    settings = TrainSettings(
        epochs=8, batch_size=10, optimizer="sgd", lr=0.2, momentum=0.9, snapshots=9
    )
    res = train_replicas(model, x, y, x, y, settings, [3, 4])
    snaps, final = res.snapshots, res.params
    pcs, ratio = ls.pca_directions(snaps, final, k=3)
    assert pcs.shape == (2, 3, model.n_params) and ratio.shape == (2, 3)
    for r in range(2):
        offsets = (snaps[r] - final[r]).numpy()
        centred = offsets - offsets.mean(axis=0)
        _, sv, vh = np.linalg.svd(centred, full_matrices=False)
        np.testing.assert_allclose(np.abs(pcs[r].numpy() @ vh[:3].T), np.eye(3), atol=1e-8)
        np.testing.assert_allclose(ratio[r].numpy(), sv[:3] ** 2 / (sv**2).sum(), rtol=1e-10)
        # the trajectory is neither planar nor centred (else this test could not tell)
        assert sv[2] ** 2 / (sv**2).sum() > 1e-4
        assert np.linalg.norm(offsets.mean(axis=0)) > 0.5 * sv[0] / np.sqrt(len(offsets))
        # the largest-magnitude entry of each direction is positive (reruns agree)
        top = pcs[r].abs().argmax(-1, keepdim=True)
        assert (pcs[r].gather(-1, top) > 0).all()


# ------------------------------------------------------------------ evaluation


def _loop(model, theta0, dirs, coords, x, y, loss):
    """The reference: one forward pass per grid point (what existing tools do)."""
    out_l = torch.empty(theta0.shape[0], coords.shape[0], dtype=theta0.dtype)
    out_a = torch.empty_like(out_l)
    for r in range(theta0.shape[0]):
        for i, c in enumerate(coords):
            theta = theta0[r] + (c[:, None] * dirs[r]).sum(0)
            out_l[r, i], out_a[r, i] = evaluate(model, theta, x, y, loss)
    return out_l, out_a


@pytest.mark.parametrize(
    ("arch", "loss"),
    [("mlp-d2-w16", "cross_entropy"), ("mlp-d1-w8-relu", "mse"), ("perceptron", "cross_entropy")],
)
def test_batched_grid_equals_per_point_loop_float32(arch, loss):
    model = Model.build(arch, 7, 4)
    x, y = _data(40, 7, 4, seed=5, dtype=torch.float32)
    theta = torch.stack([model.init(s) for s in (3, 4, 5)])
    gen = torch.Generator().manual_seed(6)
    dirs = ls.random_directions(model, theta, 2, "filter", "normalise", gen)
    a, b = torch.linspace(-1, 1, 7), torch.linspace(-0.5, 1.5, 9)
    # a budget of a few points forces chunks over both origins and points
    budget = 3 * ls.memory_per_point(model, 40, 4) / 2**20
    got = ls.plane(model, theta, dirs[:, 0], dirs[:, 1], a, b, x, y, loss, budget)
    coords = torch.cartesian_prod(a, b)
    want_l, want_a = _loop(model, theta, dirs, coords, x, y, loss)
    assert got.loss.shape == (3, 7, 9)
    torch.testing.assert_close(got.loss.reshape(3, -1), want_l, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got.accuracy.reshape(3, -1), want_a, rtol=0, atol=0)


def test_ties_and_nans_give_the_accuracy_of_argmax():
    """All-zero outputs tie (argmax takes class 0); a NaN output is argmax's pick."""
    model = Model.build("mlp-d1-w4", 3, 3)
    x, y = _data(30, 3, 3, seed=9, dtype=torch.float32)
    theta = torch.zeros(2, model.n_params)
    theta[1, -1] = torch.nan  # the last output's bias
    dirs = torch.zeros(2, 1, model.n_params)
    dirs[:, 0, : 3 * 4] = 1.0  # first-layer weights only: hidden units move, outputs stay 0
    coords = torch.tensor([[0.0], [0.5]])
    got = ls.evaluate_grid(model, theta, dirs, coords, x, y, "cross_entropy")
    want_l, want_a = _loop(model, theta, dirs, coords, x, y, "cross_entropy")
    torch.testing.assert_close(got.accuracy, want_a.float(), rtol=0, atol=0)
    torch.testing.assert_close(got.accuracy[0], (y == 0).float().mean().expand(2))
    torch.testing.assert_close(got.accuracy[1], (y == 2).float().mean().expand(2))
    torch.testing.assert_close(got.loss, want_l.float(), equal_nan=True)


def test_interpolation_hits_both_endpoints():
    model = Model.build("mlp-d1-w8", 3, 2)
    x, y = _data(25, 3, 2, seed=7)
    ta, tb = model.init(1, torch.float64), model.init(2, torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    got = ls.interpolate(model, ta, tb, t, x, y, "cross_entropy")
    torch.testing.assert_close(got.loss[0], mean_loss(model, ta, x, y, "cross_entropy"))
    torch.testing.assert_close(got.loss[1], mean_loss(model, (ta + tb) / 2, x, y, "cross_entropy"))
    torch.testing.assert_close(got.loss[2], mean_loss(model, tb, x, y, "cross_entropy"))


# ------------------------------------------------------------------ curvature


@pytest.fixture(scope="module")
def saddle_mlp():
    """A small MLP at its initial point (a saddle region: λmin < 0) with its dense spectrum."""
    model = Model.build("mlp-d1-w5", 3, 3)
    x, y = _data(20, 3, 3, seed=8)
    theta = model.init(9, torch.float64)
    fn = ls.model_loss(model, x, y, "cross_entropy")
    evals, evecs = torch.linalg.eigh(torch.func.hessian(fn)(theta))
    assert evals[0] < 0 < evals[-1]
    return model, x, y, theta, evals, torch.stack([evecs[:, -1], evecs[:, 0]])


def test_centre_of_hessian_plane_has_curvatures_lambda_max_and_min(saddle_mlp):
    model, x, y, theta, evals, vecs = saddle_mlp
    data = {"x_train": x, "y_train": y, "x_test": x[:5], "y_test": y[:5]}
    ds = ls.slice_dataset(
        model,
        theta[None],
        data,
        "cross_entropy",
        axes=["hessian_max", "hessian_min"],
        ranges=[[-1e-3, 1e-3], [-1e-3, 1e-3]],
        resolution=3,
        normalisation="unit",
        hessian_vectors=vecs[None],
    )
    want = np.array([evals[-1].item(), evals[0].item()])
    np.testing.assert_allclose(ds.centre_curvature.values[0], want, rtol=1e-5)
    assert ds.train_loss.dims == ("replica", "a", "b")
    assert abs(ds.axes_cosine.item()) < 1e-12


def test_curvature_statistics_on_a_small_mlp(saddle_mlp):
    model, x, y, theta, evals, vecs = saddle_mlp
    ds = ls.curvature_statistics(
        model,
        theta[None],
        x,
        y,
        "cross_entropy",
        n_directions=64,
        fd_step=1e-4,
        seed=0,
        hessian_vectors=vecs[None],
        trace=evals.sum()[None],
    )
    np.testing.assert_allclose(ds.lambda_max.values, [evals[-1].item()], rtol=1e-10)
    np.testing.assert_allclose(ds.lambda_min.values, [evals[0].item()], rtol=1e-10)
    np.testing.assert_allclose(
        ds.hessian_curvature_fd.values, ds.hessian_curvature.values, rtol=1e-5
    )
    np.testing.assert_allclose(ds.curvature_fd.values, ds.curvature.values, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(
        ds.hessian_plane_curvature.values[0], [evals[0].item(), evals[-1].item()], rtol=1e-10
    )
    # random planes never curve below λmin nor above λmax (Cauchy interlacing)
    assert ds.plane_curvature.min() >= evals[0].item() - 1e-10
    assert ds.plane_curvature.max() <= evals[-1].item() + 1e-10
    for name, var in ds.data_vars.items():
        assert "long_name" in var.attrs and "units" in var.attrs, name


def test_random_projections_hide_the_saddle_of_a_quadratic():
    """L = ½ θᵀHθ with a known spectrum, a quarter of it negative, tr H / P = 1."""
    p, m = 400, 400
    gen = torch.Generator().manual_seed(10)
    spectrum = torch.linspace(-1.0, 3.0, p, dtype=torch.float64)
    q, _ = torch.linalg.qr(torch.randn(p, p, generator=gen, dtype=torch.float64))
    h = q @ torch.diag(spectrum) @ q.T

    def loss(theta):
        return 0.5 * torch.einsum("...i,ij,...j->...", theta, h, theta)

    theta = torch.zeros(p, dtype=torch.float64)
    deltas = torch.randn(m, p, generator=gen, dtype=torch.float64)
    got = ls.projected_curvatures(loss, theta, deltas, fd_step=1e-2)
    trace = spectrum.sum().item()
    # Gaussian δ: E[δᵀHδ] = tr H; unit-norm: E[κ] = tr H / P — each within 3 standard errors
    for values, want in ((got.quadratic_form, trace), (got.curvature, trace / p)):
        sem = values.std() / math.sqrt(m)
        assert abs(values.mean().item() - want) < 3 * sem.item()
    torch.testing.assert_close(got.curvature_fd, got.curvature, rtol=1e-8, atol=1e-8)
    assert (got.curvature < 0).double().mean() < 0.01  # a quarter of the spectrum is negative
    planes = ls.plane_curvatures(
        deltas[0::2], deltas[1::2], *got.hessian_times.unflatten(0, (-1, 2)).unbind(1)
    )
    assert (planes[:, 0] < 0).double().mean() < 0.01
    extreme = torch.stack([q[:, -1], q[:, 0]])
    hv = ls.projected_curvatures(loss, theta, extreme, fd_step=1e-2).hessian_times
    torch.testing.assert_close(
        ls.plane_curvatures(extreme[0], extreme[1], hv[0], hv[1]),
        torch.tensor([-1.0, 3.0], dtype=torch.float64),
    )


# ------------------------------------------------------------------ slices


def test_segment_slice_runs_from_replica_to_partner():
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data(15, 3, 2, seed=11)
    params = torch.stack([model.init(s, torch.float64) for s in (1, 2, 3)])
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(
        model, params, data, "cross_entropy", ["segment"], [[0.0, 1.0]], resolution=5
    )
    assert ds.train_loss.dims == ("replica", "a")
    want = mean_loss(model, params, x, y, "cross_entropy").numpy()
    np.testing.assert_allclose(ds.train_loss.values[:, 0], want)
    np.testing.assert_allclose(ds.train_loss.values[:, -1], want[ds.partner.values])


def test_pca_slice_stores_trajectory_on_its_plane():
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data(15, 3, 2, seed=12)
    gen = torch.Generator().manual_seed(13)
    params = torch.stack([model.init(s, torch.float64) for s in (1, 2)])
    snaps = params[:, None] + 0.1 * torch.randn(
        2, 6, model.n_params, generator=gen, dtype=torch.float64
    )
    snaps[:, -1] = params
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    ds = ls.slice_dataset(
        model,
        params,
        data,
        "cross_entropy",
        ["pca1", "pca2"],
        [[-1, 1], [-1, 1]],
        5,
        normalisation="global",
        snapshots=snaps,
    )
    assert ds.trajectory.dims == ("replica", "snapshot", "axis")
    np.testing.assert_allclose(ds.trajectory.values[:, -1], 0.0, atol=1e-12)
    np.testing.assert_allclose(
        ds.direction_norm.values, np.linalg.norm(params, axis=-1)[:, None].repeat(2, 1)
    )


@pytest.mark.parametrize(
    "axes", [["segment", "random"], ["hessian_max", "hessian_max"], ["saddle"], []]
)
def test_bad_axes_are_one_line_errors(axes):
    model = Model.build("mlp-d1-w4", 3, 2)
    x, y = _data(5, 3, 2, seed=0)
    data = {"x_train": x, "y_train": y, "x_test": x, "y_test": y}
    params = torch.stack([model.init(s, torch.float64) for s in (1, 2)])
    with pytest.raises(InputError):
        ls.slice_dataset(model, params, data, "mse", axes, [[-1, 1]] * len(axes), 3)


# ------------------------------------------------------------------ workflow


def _write_hessian_file(repo, dataset: str, arch: str, replicas: int):
    """Stand-in for the Hessian stage: dense eigendecomposition, by HVPs of basis vectors, of
    the objective the slices analyse (the data loss plus the L2 term of the training)."""
    from statmech_nn import io
    from statmech_nn.hessian import hvp

    train = io.read_dataset(repo / f"results/train/{dataset}/{arch}.nc")
    data = io.read_dataset(repo / f"results/data/{dataset}.nc")
    model = Model.build(arch, int(train.attrs["in_dim"]), int(train.attrs["out_dim"]))
    data_loss = ls.model_loss(
        model,
        torch.as_tensor(data["x_train"].values, dtype=torch.float64),
        torch.as_tensor(data["y_train"].values),
        train.attrs["loss"],
    )
    wd = float(train.attrs.get("weight_decay", 0.0))  # the analysed objective's L2 term

    def fn(theta):
        return data_loss(theta) + 0.5 * wd * (theta * theta).sum(-1)

    eye = torch.eye(model.n_params, dtype=torch.float64)
    values, vectors, traces = [], [], []
    for r in range(replicas):
        theta = torch.as_tensor(train["params"].values[r], dtype=torch.float64)
        h = torch.func.vmap(lambda v, th=theta: hvp(fn, th, v), chunk_size=128)(eye)
        evals, evecs = torch.linalg.eigh(0.5 * (h + h.T))
        values.append(evals.numpy())
        vectors.append(torch.stack([evecs[:, -1], evecs[:, 0]]).numpy())
        traces.append(float(evals.sum()))
    ds = xr.Dataset(
        {
            "eigenvalues": io.labelled(np.array(values), ("replica", "eigen"), "eigenvalues"),
            "eigenvectors": io.labelled(
                np.array(vectors), ("replica", "which", "param"), "eigenvectors"
            ),
            "trace_dense": io.labelled(np.array(traces), ("replica",), "tr H"),
        },
        coords={"replica": np.arange(replicas), "which": ["max", "min"]},
        # the provenance a Hessian-stage file carries: the slice jobs check it on read
        attrs={
            "rule": "hessian",
            "wildcards_json": json.dumps({"arch": arch, "dataset": dataset}),
            "arch": arch,
            "dataset": dataset,
        },
    )
    io.write_dataset(ds, repo / f"results/hessian/{dataset}/{arch}.nc")
    return np.array(values)


@pytest.mark.slow
def test_slices_workflow_with_a_stand_in_hessian_file(quick_run, tmp_path):
    from conftest import copy_results, copy_workflow, snakemake

    repo = copy_workflow(tmp_path / "repo")
    quick = ("--configfile", "config/quick.yaml", "--cores", "2")
    arch = "mlp-d2-w16-tanh"
    copy_results(quick_run, repo, "results/data/digits.nc", f"results/train/digits/{arch}.nc")
    spectra = _write_hessian_file(repo, "digits", arch, replicas=2)
    figures = [
        f"results/figures/{name}.png"
        for name in ("slices_random_vs_hessian", "slices_1d", "projected_curvature")
    ]
    snakemake(repo, *quick, *figures)
    base = repo / "results/slices/digits" / arch
    with xr.open_dataset(base / "hessian.nc") as ds:
        assert ds["train_loss"].dims == ("replica", "a", "b")
        assert ds["direction"].dims == ("replica", "axis", "param")
        assert list(ds["axis_kind"].values) == ["hessian_max", "hessian_min"]
        assert ds.attrs["rule"] == "slices_evaluate"
        np.testing.assert_allclose(ds["direction_norm"].values, 1.0, rtol=1e-6)
    with xr.open_dataset(base / "random.nc") as ds:
        assert np.abs(ds["axes_cosine"].values).max() < 1e-6
    with xr.open_dataset(base / "segment.nc") as ds:
        assert ds["train_loss"].dims == ("replica", "a")
        assert list(ds["partner"].values) == [1, 0]
    with xr.open_dataset(base / "curvature.nc") as ds:
        np.testing.assert_allclose(ds["lambda_max"].values, spectra[:, -1], rtol=1e-6)
        np.testing.assert_allclose(ds["lambda_min"].values, spectra[:, 0], rtol=1e-6, atol=1e-9)
        gap = np.abs(ds["mean_curvature"] - ds["trace_per_param"]) / ds["sem_curvature"]
        assert np.all(gap.values < 3), gap.values
    for path in figures:
        assert (repo / path).stat().st_size > 0
    proc = snakemake(repo, "-n", *quick, *figures)
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "slices:\n  directions:\n    curvature:\n      axes: [random]\n"
            "      ranges: [[-1, 1]]\n      resolution: 5\n",
            "config slices.directions: 'curvature' is not allowed",
        ),
        (
            "slices:\n  directions:\n    random:\n      axes: [saddle]\n      ranges: [[-1, 1]]\n",
            "config slices.directions.random.axes[0]: 'saddle' is not allowed (allowed: one of",
        ),
        (
            "slices:\n  figure_planes: [nowhere]\n",
            "config slices.figure_planes[0]: 'nowhere' is not defined under slices.directions",
        ),
    ],
    ids=["reserved-name", "bad-axis", "unknown-figure-plane"],
)
def test_bad_slices_config_names_the_key(tmp_path, text, expected):
    from conftest import copy_workflow, snakemake

    repo = copy_workflow(tmp_path / "repo")
    (repo / "bad.yaml").write_text(text)
    proc = snakemake(repo, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert expected in proc.stdout + proc.stderr, proc.stdout + proc.stderr
