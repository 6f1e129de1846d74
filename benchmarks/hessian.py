"""Top-k Hessian eigenvalues of one trained MLP: this project vs PyHessian vs curvlinops.

Same trained model (digits, full training set, float64), same k (1, 5, 10):

- ours: thick-restart Lanczos (``hessian.eigenpairs``; residuals from the
  Lanczos relation, no extra products) on each of the three HVP modes,
  tolerance 1e-6 — 1000x tighter than PyHessian's default 1e-3;
- PyHessian 0.1 (``hessian.eigenvalues``: power iteration with deflation,
  reverse-over-reverse HVPs on a retained graph), its defaults tol=1e-3,
  maxIter=100. Its release imports fine on torch 2.13 (only ``density`` calls
  the removed ``torch.eig``, not used here). Not a project dependency: run this
  with an environment that has it (e.g. a venv with ``pip install --no-deps
  pyhessian`` on top of this one); without it, the row is skipped;
- curvlinops (``HessianLinearOperator(...).to_scipy()`` + the same ``eigsh``).

HVPs are counted by wrapping each method's own product. Agreement is the
largest relative deviation from a reference (ours at tol 1e-12). Then the
scaling part: time per HVP and HVP count of ``extreme_eigenpairs`` (λmax and
λmin) for growing MLPs, and the largest that finishes in under 5 minutes.
Wall times on a shared machine are noisy: each top-k timing is the best of
``--repeats`` runs, CPU (process) time is printed next to it, and the ratios
come from this run.

    python benchmarks/hessian.py [--arch mlp-d2-w32-tanh] [--scaling-widths 100 300 1000]
"""

import argparse
import sys
import time

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator, eigsh

from statmech_nn import hessian as hs
from statmech_nn.data import digits
from statmech_nn.nets import MLP as Model
from statmech_nn.train import TrainSettings, train_replicas

F64 = torch.float64


class FlatModule(torch.nn.Module):
    """The project's functional MLP as an nn.Module with one flat parameter (for the baselines)."""

    def __init__(self, model: Model, theta: torch.Tensor):
        super().__init__()
        self.model = model
        self.theta = torch.nn.Parameter(theta.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward(self.theta, x)


def trained(arch: str, epochs: int, x, y, x_te, y_te, dtype=F64):
    model = Model.build(arch, x.shape[1], 10)
    settings = TrainSettings(epochs=epochs, batch_size=64, lr=2e-3, loss="cross_entropy")
    res = train_replicas(model, x.to(dtype), y, x_te.to(dtype), y_te, settings, [7])
    return model, res.params[0].to(dtype)


class Timer:
    """Wall and process CPU time of a block (CPU time is steadier on a shared machine)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def ours(problem, theta, k, tol, mode):
    with Timer() as t:
        op = problem.hessian(theta, mode)
        pairs = hs.eigenpairs(op, theta.numel(), k, "top", tol=tol, seed=1)
    return pairs.values.numpy(), pairs.hvps, t


def pyhessian_topk(module, x, y, k):
    import pyhessian  # noqa: F401 - its __init__ shadows the module name with the class

    ph = sys.modules["pyhessian.hessian"]

    count = [0]
    product = ph.hessian_vector_product

    def counted(gradsH, params, v):
        count[0] += 1
        return product(gradsH, params, v)

    ph.hessian_vector_product = counted
    default = torch.get_default_dtype()
    torch.set_default_dtype(F64)  # its random start vectors follow the default dtype
    try:
        torch.manual_seed(1)
        with Timer() as t:
            comp = ph.hessian(module, torch.nn.CrossEntropyLoss(), data=(x, y), cuda=False)
            values, _ = comp.eigenvalues(top_n=k)  # defaults: maxIter=100, tol=1e-3
    finally:
        ph.hessian_vector_product = product
        torch.set_default_dtype(default)
        module.zero_grad(set_to_none=True)
    return np.sort(np.array(values))[::-1], count[0], t


def curvlinops_topk(module, x, y, k, tol):
    from curvlinops import HessianLinearOperator

    count = [0]
    with Timer() as t:
        params = [p for p in module.parameters() if p.requires_grad]
        op = HessianLinearOperator(
            module, torch.nn.CrossEntropyLoss(), params, [(x, y)], check_deterministic=False
        ).to_scipy()

        def mm(v):
            v = v.reshape(op.shape[0], -1)
            count[0] += v.shape[1]
            return op @ v

        counted = LinearOperator(op.shape, matvec=lambda v: mm(v)[:, 0], matmat=mm, dtype=op.dtype)
        v0 = np.random.default_rng(1).standard_normal(op.shape[0])
        values = eigsh(counted, k=k, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(values)[::-1], count[0], t


def best_of(repeats: int, run, *args):
    """The run with the least wall time among ``repeats`` (a shared machine only adds time)."""
    return min((run(*args) for _ in range(repeats)), key=lambda r: r[2].wall)


def top_k_comparison(arch: str, epochs: int, data, repeats: int) -> None:
    model, theta = trained(arch, epochs, *data)
    x, y = data[0].to(F64), data[1]
    problem = hs.LossProblem(model, x, y, "cross_entropy")
    module = FlatModule(model, theta)
    print(f"\n== top-k eigenvalues: {arch} (P = {model.n_params}), {len(y)} samples, float64")
    for mode in hs.HVP_MODES:
        ours(problem, theta, 1, 1e-3, mode)  # warm-up (imports, first trace)
    print(f"{'method':<30}{'k':>3}{'HVPs':>6}{'wall s':>8}{'CPU s':>8}{'max rel err':>12}  top 3")
    for k in (1, 5, 10):
        reference, *_ = ours(problem, theta, k, 1e-12, "reverse")
        rows = {
            f"ours {m} (tol 1e-6)": best_of(repeats, ours, problem, theta, k, 1e-6, m)
            for m in hs.HVP_MODES
        }
        try:
            rows["PyHessian 0.1 (tol 1e-3)"] = best_of(repeats, pyhessian_topk, module, x, y, k)
        except ImportError:
            print("  PyHessian not installed here: its rows are skipped")
        rows["curvlinops 3.0.1 (tol 1e-6)"] = best_of(
            repeats, curvlinops_topk, module, x, y, k, 1e-6
        )
        for name, (values, count, t) in rows.items():
            err = np.max(np.abs(values - reference) / np.abs(reference))
            shown = np.array2string(values[:3], precision=5)
            print(f"{name:<30}{k:>3}{count:>6}{t.wall:>8.2f}{t.cpu:>8.2f}{err:>12.1e}  {shown}")
        for mine in (m for m in rows if m.startswith("ours")):
            for name, (_, count, t) in rows.items():
                if name.startswith("ours"):
                    continue
                _, own_count, own = rows[mine]
                print(
                    f"  k={k}: {mine.split(' (')[0]} / {name.split()[0]}: HVPs "
                    f"{own_count / count:.2f}, wall {own.wall / t.wall:.2f}, "
                    f"CPU {own.cpu / t.cpu:.2f}"
                )


def scaling(widths: list[int], epochs: int, data, budget_s: float, mode: str) -> None:
    """Time per HVP at each size; the full λmax/λmin run only where it is predicted to fit."""
    print(
        f"\n== extreme eigenpairs (λmax, λmin, tol 1e-6) vs size: mlp-d2-w<W> trained "
        f"{epochs} epochs, full digits training set, float64, HVP mode {mode}"
    )
    print(f"{'P':>10}{'s/HVP':>8}{'HVPs':>6}{'wall s':>9}  λmax, λmin (residual norms)")
    x, y = data[0].to(F64), data[1]
    largest, last_count = None, None
    for width in widths:
        arch = f"mlp-d2-w{width}-tanh"
        model, theta = trained(arch, epochs, *data)
        problem = hs.LossProblem(model, x, y, "cross_entropy")
        start = time.perf_counter()
        op = problem.hessian(theta, mode)
        setup = time.perf_counter() - start
        v = torch.randn(3, model.n_params, dtype=F64)
        start = time.perf_counter()
        for i in range(3):
            op(v[i : i + 1])
        per_hvp = (time.perf_counter() - start) / 3
        predicted = setup + per_hvp * 1.5 * (last_count or 200)
        if predicted > budget_s:
            print(
                f"{model.n_params:>10}{per_hvp:>8.3f}{'-':>6}{'-':>9}  not run: predicted "
                f"{predicted:.0f} s > {budget_s:.0f} s at 1.5x the last HVP count"
            )
            break
        start = time.perf_counter()
        pairs = hs.extreme_eigenpairs(op, model.n_params, tol=1e-6, seed=1)
        wall = setup + time.perf_counter() - start
        vals = ", ".join(
            f"{a:.4g} ({r:.0e})" for a, r in zip(pairs.values, pairs.residuals, strict=True)
        )
        print(f"{model.n_params:>10}{per_hvp:>8.3f}{pairs.hvps:>6}{wall:>9.1f}  {vals}")
        last_count = pairs.hvps
        if wall < budget_s:
            largest = model.n_params
    if largest is not None:
        print(
            f"largest model measured with extreme eigenpairs in < {budget_s:.0f} s: P = {largest}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp-d2-w32-tanh")
    parser.add_argument("--top-k", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--scaling-widths", type=int, nargs="*", default=[100, 300, 1000])
    parser.add_argument("--scaling-epochs", type=int, default=2)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="best-of for the top-k timings")
    parser.add_argument("--scaling-mode", default="reverse", choices=hs.HVP_MODES)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    ds = digits(0.25, seed=0)
    data = tuple(
        torch.as_tensor(ds[name].values) for name in ("x_train", "y_train", "x_test", "y_test")
    )
    data = (data[0].to(F64), data[1], data[2].to(F64), data[3])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if args.top_k:
        top_k_comparison(args.arch, args.epochs, data, args.repeats)
    if args.scaling_widths:
        scaling(args.scaling_widths, args.scaling_epochs, data, args.budget, args.scaling_mode)


if __name__ == "__main__":
    main()
