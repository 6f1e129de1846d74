"""Benchmark: overlaps, weight-matching alignment and barriers of 16 depth-4 width-128 MLPs.

Replicas are independent initialisations on the digits data (the cost does not
depend on training); 120 pairs are aligned, and the loss on the straight path
(21 points, raw and aligned) is evaluated on the training set. Prints the wall
time of each part; issue 5 asks for the whole under a minute on 2 cores.

    PYTHONPATH=src python benchmarks/overlaps.py [--replicas 16] [--dtype float64]
"""

import argparse
import time

import numpy as np
import torch

from statmech_nn import overlap as ov
from statmech_nn.data import digits
from statmech_nn.models import Model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", default="mlp-d4-w128-tanh")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--t-points", type=int, default=21)
    parser.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    parser.add_argument("--memory-mb", type=float, default=64)
    args = parser.parse_args()
    torch.set_num_threads(2)
    dtype = getattr(torch, args.dtype)
    data = digits(0.25, 0)
    x = torch.as_tensor(data["x_train"].values).to(dtype)
    y = torch.as_tensor(data["y_train"].values).long()
    model = Model.build(args.arch, x.shape[1], int(data.attrs["n_classes"]))
    theta = model.init_replicas(list(range(args.replicas)), dtype)
    print(f"{args.arch}: P = {model.n_params}, R = {args.replicas}, n = {x.shape[0]}, {args.dtype}")

    start = time.perf_counter()
    a, b = ov.pair_indices(args.replicas)
    ov.overlap_matrix(theta), ov.layer_overlaps(model, theta)
    t_overlap = time.perf_counter() - start
    start = time.perf_counter()
    aligned, sweeps = ov.align_pairs(model, theta, a, b)
    t_align = time.perf_counter() - start
    start = time.perf_counter()
    ds = ov.overlap_dataset(
        model, theta, x, y, "cross_entropy", np.arange(args.replicas), args.t_points, 0.05,
        args.memory_mb,
    )  # fmt: skip
    t_total = time.perf_counter() - start
    print(f"overlap matrices: {t_overlap:.3f} s")
    print(f"alignment of {len(a)} pairs: {t_align:.2f} s (mean sweeps {sweeps.mean():.1f})")
    print(f"whole overlap_dataset (overlaps + alignment + barriers): {t_total:.2f} s")
    q = ds["q_pair"].mean("pair").values
    print(f"mean q raw {q[0]:.4f}, aligned {q[1]:.4f}; basins {int(ds['n_basins'])}")


if __name__ == "__main__":
    main()
