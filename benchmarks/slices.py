"""Benchmark: a 51×51 loss slice of a digits MLP, batched evaluator vs one pass per point.

The baseline is what existing tools (Li et al.'s loss-landscape, the PyPI
package loss-landscapes) do: one forward pass of the model per grid point over
the whole training set, in a Python loop. Two such loops are timed — the
project's ``evaluate`` (model.forward, loss and accuracy) and a plain
``nn.Sequential`` of ``nn.Linear``/``nn.Tanh`` whose weights are set per point —
and the faster one is the baseline. Optionally loss-landscapes' own
``random_plane`` runs on the same grid points (installed outside the project,
e.g. ``pip install --no-deps --target /tmp/ll-venv loss-landscapes==3.0.6`` and
``LOSS_LANDSCAPES_PATH=/tmp/ll-venv``).

Throughput counts matmul FLOPs only, 2·M·N·K per product (activations, the
loss and bias adds are not counted), for an MLP with widths d₀ = in, d₁..d_L,
n samples, k axes and N grid points:

- per-point loop: N · 2n Σₗ dₗ₋₁dₗ (every layer once per point);
- batched evaluator: (k + 1) · 2n d₀d₁ once (the first layer's products) plus,
  per point, 2k · n d₁ (combining them), 2k · P₁ (the point's later weights,
  P₁ of them) and 2n Σ_{l≥2} dₗ₋₁dₗ (the later layers).

The reference is a float32 GEMM of the shape of the evaluator's largest
product, (chunk·n, width) @ (width, width), measured in the same run and
thread count (a 2048² GEMM is printed next to it). All variants run with the
same thread count (default 1: the machine is shared); times are process CPU
times, best of interleaved rounds. Numbers are printed, not asserted.

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
from statmech_nn.nets import MLP as Model
from statmech_nn.train import TrainSettings, evaluate, train_replicas

GOAL_SPEEDUP, GOAL_FRACTION = 5.0, 0.40


def cpu_time(fn) -> float:
    """Process CPU seconds of one call (1 thread: its own time, not other agents')."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def best_time(fn, repeats: int) -> float:
    return min(cpu_time(fn) for _ in range(repeats))


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


GEMMS = {"aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm", "aten::matmul"}
ACTIVATIONS = {f"aten::{f}{s}" for f in ("tanh", "sigmoid", "relu", "gelu") for s in ("", "_")}


def time_shares(fn) -> dict[str, float]:
    """Fractions of one call's self CPU time (torch.profiler) in GEMMs, activations, the rest."""
    from torch.profiler import profile

    with profile() as prof:
        fn()
    seconds = {"GEMM": 0.0, "activation": 0.0, "rest": 0.0}
    for event in prof.key_averages():
        kind = "GEMM" if event.key in GEMMS else "rest"
        kind = "activation" if event.key in ACTIVATIONS else kind
        seconds[kind] += event.self_cpu_time_total
    total = sum(seconds.values())
    return {kind: v / total for kind, v in seconds.items()}


def sequential_net(model: Model) -> torch.nn.Sequential:
    """The textbook nn.Module of the same MLP (Linear, activation, ..., Linear)."""
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU}.get(
        model.arch.activation, torch.nn.Sigmoid
    )
    layers: list[torch.nn.Module] = []
    for layer in range(model.n_layers):
        out_dim, in_dim = model.shapes[f"layer{layer}.weight"]
        layers += [torch.nn.Linear(in_dim, out_dim), act()]
    return torch.nn.Sequential(*layers[:-1])


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

    net = sequential_net(model)
    torch.nn.utils.vector_to_parameters(theta, net.parameters())
    seen: list[torch.Tensor] = []

    class Recording(Loss):
        def __call__(self, wrapper):
            if len(seen) < 2 * steps + 1:  # first two columns: enough to recover the grid
                seen.append(torch.cat([p.detach().flatten() for p in net.parameters()]).clone())
            return super().__call__(wrapper)

    metric = Recording(torch.nn.CrossEntropyLoss(), x, y)
    torch.manual_seed(0)
    start = time.process_time()
    values = loss_landscapes.random_plane(net, metric, distance=1, steps=steps)
    seconds = time.process_time() - start
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
    parser.add_argument("--memory-mb", type=float, default=32.0, help="evaluate_grid's budget")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
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
    n_points, n = coords.shape[0], x.shape[0]
    chunk = ls.chunk_size(ls.memory_per_point(model, n, 4), args.memory_mb, n_points)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} CPUs")
    print(
        f"grid {args.steps}x{args.steps} = {n_points} points; {args.arch}"
        f" ({model.arch.activation}), P = {model.n_params};"
        f" digits train set n = {n} x {x.shape[1]} features, float32"
    )
    print(f"evaluate_grid memory budget {args.memory_mb:g} MB -> {chunk} points per chunk")

    def ours():
        return ls.evaluate_grid(model, theta, dirs, coords, x, y, "cross_entropy", args.memory_mb)

    def loop():
        loss, acc = torch.empty(n_points), torch.empty(n_points)
        for i, c in enumerate(coords):
            loss[i], acc[i] = evaluate(model, theta + c @ dirs, x, y, "cross_entropy")
        return loss, acc

    net = sequential_net(model)
    params = list(net.parameters())

    def module_loop():
        loss, acc = torch.empty(n_points), torch.empty(n_points)
        with torch.no_grad():
            for i, c in enumerate(coords):
                torch.nn.utils.vector_to_parameters(theta + c @ dirs, params)
                out = net(x)
                loss[i] = torch.nn.functional.cross_entropy(out, y)
                acc[i] = (out.argmax(-1) == y).float().mean()
        return loss, acc

    width = model.arch.width or model.out_dim
    a, b = torch.randn(chunk * n, width), torch.randn(width, width)
    sq_a, sq_b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    tasks = {
        "gemm": lambda: a @ b,
        "gemm2048": lambda: sq_a @ sq_b,
        "ours": ours,
        "loop": loop,
        "module loop": module_loop,
    }
    ours()
    # the machine is shared: interleave the measurements and keep the best of each
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for _ in range(args.rounds):
        for name, fn in tasks.items():
            times[name].append(best_time(fn, 5 if name.startswith("gemm") else 1))
    best = {name: min(v) for name, v in times.items()}
    gemm = 2 * chunk * n * width * width / best["gemm"] / 1e9
    gemm2048 = 2 * 2048**3 / best["gemm2048"] / 1e9
    got, want, want_module = ours(), loop(), module_loop()
    dev = (got.loss - want[0]).abs().max().item()
    dev_module = (got.loss - want_module[0]).abs().max().item()
    hit_diff = ((got.accuracy.double() - want[1].double()) * n).round().abs()  # in samples
    executed, per_point = slice_flops(model, n, n_points, 2)
    baseline = min(best["loop"], best["module loop"])
    speedup = baseline / best["ours"]
    gflops = executed / best["ours"] / 1e9
    fraction = gflops / gemm
    spread = ", ".join(f"{k} {max(v) / min(v):.2f}x" for k, v in times.items())
    print(f"best of {args.rounds} interleaved rounds (slowest/fastest: {spread})")
    print(f"float32 GEMM ({chunk * n}x{width})@({width}x{width}): {gemm:.1f} GFLOP/s (reference)")
    print(f"float32 GEMM 2048x2048: {gemm2048:.1f} GFLOP/s")
    for name in ("ours", "loop", "module loop"):
        label = {"ours": "batched evaluate_grid", "loop": "per-point loop (evaluate)"}.get(
            name, "per-point loop (nn.Sequential)"
        )
        print(f"{label:32s} {best[name]:7.3f} s  ({n_points / best[name]:6.0f} points/s)")
    print(
        f"same numbers: max |dloss| = {dev:.1e} (evaluate), {dev_module:.1e} (nn.Sequential);"
        f" accuracy differs at {int((hit_diff > 0).sum())} points,"
        f" by at most {int(hit_diff.max())} sample(s) (argmax near-ties under rounding)"
    )
    print(f"matmul FLOP: batched {executed / 1e9:.1f} G, per-point passes {per_point / 1e9:.1f} G")
    print(
        f"per-point loops: {per_point / best['loop'] / 1e9:.1f} and"
        f" {per_point / best['module loop'] / 1e9:.1f} GFLOP/s"
    )
    print(
        f"speed-up over the faster per-point loop: {speedup:.2f}x "
        f"(goal >= {GOAL_SPEEDUP:g}x: {'met' if speedup >= GOAL_SPEEDUP else 'NOT met'})"
    )
    print(
        f"batched: {gflops:.1f} GFLOP/s = {fraction:.0%} of the reference GEMM, "
        f"{gflops / gemm2048:.0%} of the 2048² GEMM "
        f"(goal >= {GOAL_FRACTION:.0%}: {'met' if fraction >= GOAL_FRACTION else 'NOT met'})"
    )
    print(f"(per-point-equivalent: {per_point / best['ours'] / 1e9:.1f} GFLOP/s)")
    shares = {"batched": time_shares(ours), "loop": time_shares(module_loop)}
    for name, share in shares.items():
        print(
            f"time shares, {name} (torch.profiler self CPU): "
            + ", ".join(f"{kind} {v:.0%}" for kind, v in share.items())
        )
    # the evaluator's floor: its GEMMs and activations alone, everything else free
    floor = best["ours"] * (shares["batched"]["GEMM"] + shares["batched"]["activation"])
    print(
        f"bound if all but GEMMs and activations took no time: {floor:.3f} s, "
        f"speed-up {baseline / floor:.2f}x, {executed / floor / 1e9 / gemm:.0%} of the reference"
    )

    path = os.environ.get("LOSS_LANDSCAPES_PATH")
    if path:
        sys.path.insert(0, path)
    try:
        import loss_landscapes  # noqa: F401
    except ImportError:
        print("loss-landscapes not importable (set LOSS_LANDSCAPES_PATH): skipped")
        return
    values, origin, ll_dirs, ll_coords, t_ll = loss_landscapes_plane(model, theta, x, y, args.steps)

    def same_grid():
        return ls.evaluate_grid(
            model, origin, ll_dirs, ll_coords, x, y, "cross_entropy", args.memory_mb
        )

    dev_ll = (same_grid().loss - values.flatten()).abs().max().item()
    t_same = best_time(same_grid, args.rounds)
    print(
        f"loss-landscapes random_plane: {t_ll:.3f} s; ours on its grid {t_same:.3f} s; "
        f"speed-up {t_ll / t_same:.1f}x; max |dloss| = {dev_ll:.1e}"
    )


if __name__ == "__main__":
    main()
