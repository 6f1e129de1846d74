"""Benchmark: a 51×51 loss slice of a digits MLP, batched evaluator vs one pass per point.

Prints wall times, the speed-up over a per-point loop (what existing tools do),
optionally over the PyPI package loss-landscapes' ``random_plane`` on the same
grid points (installed outside the project, e.g.
``pip install --no-deps --target /tmp/ll-venv loss-landscapes==3.0.6`` and
``LOSS_LANDSCAPES_PATH=/tmp/ll-venv``), the largest deviation between the
methods, and the float32 GFLOP/s reached as a fraction of this machine's dense
float32 matmul GFLOP/s measured in the same run. Numbers are printed, not asserted.

    PYTHONPATH=src python benchmarks/slices.py [--arch mlp-d2-w64] [--steps 51]
"""

import argparse
import math
import os
import sys
import time

import torch

from statmech_nn import landscape as ls
from statmech_nn.data import digits
from statmech_nn.models import Model
from statmech_nn.train import TrainSettings, evaluate, train_replicas


def best_time(fn, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def slice_flops(model: Model, n_samples: int, n_points: int, k: int) -> tuple[float, float]:
    """Matmul FLOPs: (what the batched evaluator executes, what per-point passes execute)."""
    layers = [s for name, s in model.shapes.items() if name.endswith("weight")]
    per_point = sum(2 * n_samples * o * i for o, i in layers)
    first = 2 * n_samples * layers[0][0] * layers[0][1]
    tail_params = model.n_params - sum(
        math.prod(s) for name, s in model.shapes.items() if name.startswith("layer0.")
    )
    combine = 2 * k * n_samples * layers[0][0] + 2 * k * tail_params
    executed = (k + 1) * first + n_points * (per_point - first + combine)
    return executed, n_points * per_point


def loss_landscapes_plane(model: Model, theta: torch.Tensor, x, y, steps: int):
    """loss-landscapes' random_plane on an equivalent nn.Sequential; its grid recovered exactly.

    Returns (values (steps, steps), origin, directions (2, P), coords (steps², 2)) so
    the same points can be evaluated by ours. random_plane walks the grid in a
    serpentine; its odd columns sit one step lower along the second direction
    than its even ones (an off-by-one of the package), which the coordinates
    below reproduce.
    """
    import loss_landscapes
    from loss_landscapes.metrics import Loss

    layers, params = [], model.unflatten(theta)
    for layer in range(model.n_layers):
        w = params[f"layer{layer}.weight"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(params[f"layer{layer}.bias"])
        layers += [lin, torch.nn.Tanh()]
    net = torch.nn.Sequential(*layers[:-1])
    seen: list[torch.Tensor] = []

    class Recording(Loss):
        def __call__(self, wrapper):
            if len(seen) < 2 * steps + 1:  # first two columns: enough to recover the grid
                seen.append(torch.cat([p.detach().flatten() for p in net.parameters()]).clone())
            return super().__call__(wrapper)

    metric = Recording(torch.nn.CrossEntropyLoss(), x, y)
    torch.manual_seed(0)
    start = time.perf_counter()
    values = loss_landscapes.random_plane(net, metric, distance=1, steps=steps)
    seconds = time.perf_counter() - start
    d2 = seen[1] - seen[0]
    d1 = seen[2 * steps - 1] - seen[0] + d2  # column 1 ends at offset 0 along d2
    half = steps / 2
    origin = seen[0] + half * d1 - (1 - half) * d2
    i, j = torch.meshgrid(torch.arange(steps), torch.arange(steps), indexing="ij")
    coords = torch.stack([i - half, j + 1 - half - (i % 2)], -1).reshape(-1, 2).float()
    return torch.as_tensor(values), origin, torch.stack([d1, d2]), coords, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp-d2-w64")
    parser.add_argument("--steps", type=int, default=51)
    parser.add_argument("--memory-mb", type=float, default=32.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    ds = digits(test_fraction=0.25, seed=0)  # as in config/config.yaml
    x = torch.tensor(ds.x_train.values, dtype=torch.float32)
    y = torch.tensor(ds.y_train.values)
    model = Model.build(args.arch, x.shape[1], 10)
    trained = train_replicas(
        model, x, y, x, y, TrainSettings(epochs=args.epochs, batch_size=64, lr=3e-3), seeds=[0]
    )
    theta = trained.params[0]
    dirs = ls.random_directions(model, theta, 2, "filter", "zero", torch.Generator().manual_seed(1))
    grid = torch.linspace(-1, 1, args.steps)
    coords = torch.cartesian_prod(grid, grid)
    n_points = coords.shape[0]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")
    print(f"{args.arch} on digits: P = {model.n_params}, n_train = {x.shape[0]}, grid {n_points}")

    def ours():
        return ls.evaluate_grid(model, theta, dirs, coords, x, y, "cross_entropy", args.memory_mb)

    def loop():
        out = torch.empty(n_points)
        for i, c in enumerate(coords):
            out[i] = evaluate(model, theta + c @ dirs, x, y, "cross_entropy")[0]
        return out

    # the machine is shared: interleave the three measurements and keep the best of each
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    times: dict[str, list[float]] = {"matmul": [], "ours": [], "loop": []}
    ours()
    for _ in range(args.rounds):
        times["matmul"].append(best_time(lambda: a @ b, 3))
        times["ours"].append(best_time(ours, 1))
        times["loop"].append(best_time(loop, 1))
    t_mm, t_ours, t_loop = (min(times[k]) for k in ("matmul", "ours", "loop"))
    peak = 2 * 2048**3 / t_mm / 1e9
    spread = {k: max(v) / min(v) for k, v in times.items()}
    print(f"float32 matmul (2048²): {peak:.1f} GFLOP/s")
    dev = (ours().loss - loop()).abs().max().item()
    executed, per_point = slice_flops(model, x.shape[0], n_points, 2)
    print(
        f"best of {args.rounds} interleaved rounds (slowest/fastest round: "
        + ", ".join(f"{k} {v:.1f}x" for k, v in spread.items())
        + ")"
    )
    print(f"batched evaluator: {t_ours:.3f} s ({n_points / t_ours:.0f} points/s)")
    print(f"per-point loop:    {t_loop:.3f} s ({n_points / t_loop:.0f} points/s)")
    print(f"speed-up over the per-point loop: {t_loop / t_ours:.1f}x; max |Δloss| = {dev:.2e}")
    gf_exec, gf_model = executed / t_ours / 1e9, per_point / t_ours / 1e9
    print(
        f"batched: {gf_exec:.1f} GFLOP/s executed = {gf_exec / peak:.0%} of matmul; "
        f"{gf_model:.1f} GFLOP/s per-point-equivalent = {gf_model / peak:.0%} of matmul"
    )
    gf_loop = per_point / t_loop / 1e9
    print(f"per-point loop: {gf_loop:.1f} GFLOP/s = {gf_loop / peak:.0%} of matmul")

    path = os.environ.get("LOSS_LANDSCAPES_PATH")
    if path:
        sys.path.insert(0, path)
    try:
        import loss_landscapes  # noqa: F401
    except ImportError:
        print("loss-landscapes not importable (set LOSS_LANDSCAPES_PATH): skipped")
        return
    values, origin, ll_dirs, ll_coords, t_ll = loss_landscapes_plane(model, theta, x, y, args.steps)
    same = ls.evaluate_grid(model, origin, ll_dirs, ll_coords, x, y, "cross_entropy")
    dev_ll = (same.loss - values.flatten()).abs().max().item()
    t_same = best_time(
        lambda: ls.evaluate_grid(model, origin, ll_dirs, ll_coords, x, y, "cross_entropy"), 3
    )
    print(
        f"loss-landscapes random_plane: {t_ll:.3f} s; ours on its grid {t_same:.3f} s; "
        f"speed-up {t_ll / t_same:.1f}x; max |Δloss| = {dev_ll:.2e}"
    )


if __name__ == "__main__":
    main()
