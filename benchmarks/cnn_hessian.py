"""Extreme Hessian eigenpairs of a ≥ 10⁶-parameter CNN on digits images (issue 14).

``cnn-c256-c256-c256-k3`` (P = 1.19·10⁶; every convolution runs at all 64 pixels of
the 1×8×8 images, about 76 M multiply-adds per sample) is trained for ``--epochs``
epochs on ``--train-samples`` images, then λmax and λmin of the training loss on a
fixed subset of ``--samples`` training images come from the project's eigensolver
(:func:`statmech_nn.hessian.extreme_eigenpairs`: Lanczos for the largest-magnitude
eigenvalue, then on the shifted operator), with Hessian-vector products by
reverse-over-reverse differentiation (:class:`statmech_nn.hessian.LossProblem`, data
in chunks from ``--memory-mb``). ARPACK stops at relative tolerance ``--tol`` on the
Ritz values; the residuals ‖Hv − λv‖/|λ| of the returned pairs are printed as the
convergence check.

Prints P, dtype, threads, samples, the machine load, HVPs, seconds per HVP and the
wall time of the eigenpairs (the 5-minute goal); no assertion.

Measured (2 cores shared with other jobs, torch 2.13 CPU, defaults): 64 HVPs, λmax =
2.281 and λmin = −0.517 (residuals 7e-5 and 4e-3 relative); 286 s wall, 175 s process
time at load average 5.4–6.4; 839 s wall, 201 s process at load 9–16. With the CNN fast
path (2026-12-02): ``--threads 1`` 143 s wall, 98 s process (2.2 s per HVP) at load
4.3–2.8; ``--threads 2`` 886 s wall, 379 s process at load 6–7 (OpenMP threads wait for
a core on a loaded machine: prefer one thread there).

    python benchmarks/cnn_hessian.py [--arch cnn-c256-c256-c256-k3] [--samples 128]
        [--dtype float32] [--tol 1e-3] [--epochs 2] [--train-samples 256] [--threads 2]
        [--memory-mb 2000]
"""

import argparse
import os
import time

import torch

from statmech_nn.data import digits
from statmech_nn.hessian import LossProblem, extreme_eigenpairs, hvp_sample_chunk
from statmech_nn.nets import build_network
from statmech_nn.train import TrainSettings, train_replicas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--arch", default="cnn-c256-c256-c256-k3")
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--ncv", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-samples", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-mb", type=float, default=2000.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)

    data = digits(0.25, 0, images=True)
    x = torch.as_tensor(data["x_train"].values).to(dtype)
    y = torch.as_tensor(data["y_train"].values).long()
    x_test = torch.as_tensor(data["x_test"].values).to(dtype)
    y_test = torch.as_tensor(data["y_test"].values).long()
    net = build_network(args.arch, (1, 8, 8), 10)
    print(f"{args.arch}: P = {net.n_params:,}, dtype {args.dtype}, {args.threads} threads")
    start = time.perf_counter()
    settings = TrainSettings(epochs=args.epochs, batch_size=32, lr=1e-3)
    n = args.train_samples
    res = train_replicas(net, x[:n], y[:n], x_test[:n], y_test[:n], settings, [0])
    print(
        f"training on {n} images: {args.epochs} epoch(s) in {time.perf_counter() - start:.0f} s, "
        f"train loss {float(res.curves['train_loss'][0, -1]):.3f}, "
        f"test accuracy {float(res.curves['test_accuracy'][0, -1]):.3f}"
    )

    theta = res.params[0].to(dtype)
    xs, ys = x[: args.samples], y[: args.samples]
    chunk = hvp_sample_chunk(
        net.n_params, len(ys), net.activations_per_sample, theta.element_size(), args.memory_mb
    )
    problem = LossProblem(net, xs, ys, "cross_entropy", sample_chunk=chunk)
    matmat = problem.hessian(theta, "reverse")
    load = os.getloadavg()[0]
    start, cpu = time.perf_counter(), time.process_time()
    pairs = extreme_eigenpairs(matmat, net.n_params, dtype, tol=args.tol, ncv=args.ncv)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    lam = pairs.values.tolist()
    rel = (pairs.residuals / pairs.values.abs()).tolist()
    print(f"samples {len(ys)} (chunks of {chunk}), load average before: {load:.1f}")
    print(f"lambda_max = {lam[0]:.6g}  (residual/|lambda| {rel[0]:.2e})")
    print(f"lambda_min = {lam[1]:.6g}  (residual/|lambda| {rel[1]:.2e})")
    print(
        f"eigenpairs: {pairs.hvps} HVPs, {wall / pairs.hvps:.2f} s per HVP, "
        f"wall {wall:.0f} s (process {cpu:.0f} s), "
        f"goal < 300 s: {'met' if wall < 300 else 'missed'}"
    )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
