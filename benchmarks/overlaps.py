"""Benchmark: overlaps, weight-matching alignment and barriers of 16 depth-4 width-128 MLPs.

Replicas are independent initialisations on the digits data (the cost does not
depend on training); all 120 pairs are aligned and the training loss on the
straight path (t grid, raw and aligned) is evaluated. Settings (t points, memory
budget, dtype) are the study's ``overlaps`` section of config/config.yaml and the
torch threads its ``threads`` (what the rule uses) unless given. Prints the wall
and process time of :func:`statmech_nn.overlap.overlap_dataset` and of each of
its parts (from its log), the path evaluation's matmul GFLOP/s as a fraction of
this machine's measured in the same run, the machine's load, and whether issue
5's target (under a minute on 2 cores) was reached. Nothing is asserted.

On a machine shared with other jobs, 2 torch threads were ~4x slower than 1
(OpenMP threads wait for a core another process holds): measure both.

    PYTHONPATH=src python benchmarks/overlaps.py [--replicas 16] [--threads 2] [--dtype float64]
"""

import argparse
import logging
import os
import time

import numpy as np
import torch
import yaml

from statmech_nn import overlap as ov
from statmech_nn.data import digits
from statmech_nn.nets import MLP as Model


def matmul_gflops(dtype: torch.dtype, n: int = 1347, width: int = 128, batch: int = 8) -> float:
    """This machine's batched (n × width)·(width × width) matmul rate, the path's main product."""
    h = torch.randn(batch, n, width, dtype=dtype)
    w = torch.randn(batch, width, width, dtype=dtype)
    torch.bmm(h, w)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        torch.bmm(h, w)
        best = min(best, time.perf_counter() - start)
    return 2 * batch * n * width * width / best / 1e9


def path_flops(model: Model, n_samples: int, n_points: int) -> float:
    """Matmul FLOPs of ``n_points`` forward passes after the first layer (computed once)."""
    layers = [s for name, s in model.shapes.items() if name.endswith("weight")][1:]
    return n_points * sum(2 * n_samples * o * i for o, i in layers)


class Parts(logging.Handler):
    """Collects the per-part timings overlap_dataset logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def main() -> None:
    with open("config/config.yaml") as f:
        config = yaml.safe_load(f)
    study = config["overlaps"]
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="mlp-d4-w128-tanh")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--t-points", type=int, default=study["t_points"])
    parser.add_argument("--dtype", default=study["dtype"], choices=["float32", "float64"])
    parser.add_argument("--memory-mb", type=float, default=study["memory_mb"])
    parser.add_argument("--threads", type=int, default=config["threads"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    data = digits(0.25, 0)
    x = torch.as_tensor(data["x_train"].values).to(dtype)
    y = torch.as_tensor(data["y_train"].values).long()
    model = Model.build(args.arch, x.shape[1], int(data.attrs["n_classes"]))
    theta = model.init_replicas(list(range(args.replicas)), dtype)
    n_pairs = args.replicas * (args.replicas - 1) // 2
    print(
        f"{args.arch}: P = {model.n_params}, R = {args.replicas} ({n_pairs} pairs), "
        f"n = {x.shape[0]}, t points {args.t_points}, {args.dtype} "
        f"(config/config.yaml overlaps.dtype: {study['dtype']}), {args.threads} torch thread(s)"
    )
    peak = matmul_gflops(dtype)
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} (1 min) before the run")

    parts = Parts()
    logger = logging.getLogger(ov.__name__)
    logger.addHandler(parts)
    logger.setLevel(logging.INFO)
    wall, cpu = time.perf_counter(), time.process_time()
    ds = ov.overlap_dataset(
        model, theta, x, y, "cross_entropy", np.arange(args.replicas), args.t_points, 0.05,
        args.memory_mb,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    logger.removeHandler(parts)

    for line in parts.lines:
        print(f"  {line}")
    print(f"overlap_dataset total: {wall:.1f} s wall, {cpu:.1f} s process (all threads)")
    path = next((line for line in parts.lines if line.startswith("path")), "")
    path_wall = float(path.split(": ")[1].split(" s wall")[0]) if path else float("nan")
    evaluated = 2 * n_pairs * (args.t_points - 2) + args.replicas
    rate = path_flops(model, x.shape[0], evaluated) / path_wall / 1e9
    print(
        f"path losses: {evaluated} forward passes on the training set, {rate:.1f} GFLOP/s = "
        f"{rate / peak:.0%} of this machine's {args.dtype} batched matmul ({peak:.1f} GFLOP/s)"
    )
    print(f"sweeps of alignment: mean {ds['sweeps'].mean().item():.1f}")
    q = ds["q_pair"].mean("pair").values
    print(f"mean q raw {q[0]:.4f}, aligned {q[1]:.4f}; basins {int(ds['n_basins'])}")
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} (1 min) after the run")
    verdict = "reached" if wall < 60 else "NOT reached"
    print(f"issue 5 target (< 60 s on 2 cores): {verdict} ({wall:.1f} s wall, {cpu:.1f} s process)")


if __name__ == "__main__":
    main()
