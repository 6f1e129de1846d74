"""CNN replicas and CNN slices: the CNN fast path and the generic path against plain loops.

1. Training: R replicas of a built-in CNN on digits images trained at once
   (:func:`statmech_nn.train.train_replicas`; the fast path, one grouped convolution
   per layer for the replica stack and one backward, and the generic path,
   ``vmap(grad)`` over ``functional_call``) against the sequential loop a researcher
   writes (one ``nn.Module`` per replica, ``torch.optim.Adam``, ``loss.backward()``).
   All do the same work: the same epochs and batches, the per-epoch evaluation on
   the training and test sets and the full-batch gradient at the snapshot epochs.
2. Slices: a plane of grid points through 2 replicas by
   :func:`statmech_nn.landscape.evaluate_grid` (chunks of points in one batched
   forward; fast and generic) against one ``functional_call`` per grid point.

Prints CPU times (process time, one thread), the best of ``--repeats`` runs, and
their ratios measured in this run; no assertion. The convolutions are the same
kernels (oneDNN) in every variant and dominate all of them at these sizes, which
bounds what batching can gain: the plane's forward FLOPs (2·H·W·k²·c_in·c_out per
layer and sample) over each variant's time, against this core's float32 GEMM rate
on a 2048² product, say how close to the machine's limit each already runs.

    python benchmarks/cnn.py [--arch cnn-c16-c32-k3] [--replicas 16] [--epochs 2]
        [--resolution 11] [--repeats 2]
"""

import argparse
import time

import torch
from torch.func import functional_call

from statmech_nn.data import digits
from statmech_nn.landscape import evaluate_grid
from statmech_nn.losses import per_sample_loss
from statmech_nn.nets import build_network
from statmech_nn.seeds import derive_seed
from statmech_nn.train import TrainSettings, snapshot_epochs, train_replicas


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def forward_flops(net, n: int) -> float:
    """Multiply-adds ×2 of one forward pass of a built-in CNN on ``n`` images (convolutions
    and the head; activations, pooling and BatchNorm left out)."""
    _, h, w = net.input_shape
    convs = [m for m in net.module.modules() if isinstance(m, torch.nn.Conv2d)]
    per_sample = sum(2 * h * w * c.kernel_size[0] * c.kernel_size[1] * c.in_channels
                     * c.out_channels for c in convs)  # fmt: skip
    heads = [m for m in net.module.modules() if isinstance(m, torch.nn.Linear)]
    per_sample += sum(2 * m.in_features * m.out_features for m in heads)
    return float(per_sample * n)


def gemm_gflops(size: int = 2048) -> float:
    """This core's float32 GEMM rate on a size² product (best of 3), the reference."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(3))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sequential_training(net, x, y, x_test, settings, seeds):
    """One module per replica, torch.optim.Adam, loss.backward(): the textbook loop, with the
    per-epoch evaluation on the training and test sets and the full-batch gradient at the
    snapshot epochs that the study records too."""
    images = x.reshape(-1, *net.input_shape)
    everything = torch.cat([x, x_test]).reshape(-1, *net.input_shape)
    snapshots = snapshot_epochs(settings.epochs, settings.snapshots)

    def measure(module, epoch):
        with torch.no_grad():
            module(everything)
        if epoch in snapshots:
            module.zero_grad()
            per_sample_loss(module(images), y, settings.loss).mean().backward()

    for seed in seeds:
        module = net.factory()
        torch.nn.utils.vector_to_parameters(net.init(seed), module.parameters())
        opt = torch.optim.Adam(module.parameters(), lr=settings.lr)
        gen = torch.Generator().manual_seed(derive_seed(seed, "batch-order"))
        measure(module, 0)
        for epoch in range(1, settings.epochs + 1):
            order = torch.randperm(len(y), generator=gen)
            for start in range(0, len(y), settings.batch_size):
                idx = order[start : start + settings.batch_size]
                opt.zero_grad()
                per_sample_loss(module(images[idx]), y[idx], settings.loss).mean().backward()
                opt.step()
            measure(module, epoch)


def per_point_grid(net, theta, dirs, coords, x, y):
    """One functional_call per grid point and replica."""
    images = x.reshape(-1, *net.input_shape)
    with torch.no_grad():
        for r in range(theta.shape[0]):
            for c in coords:
                params = net.unflatten(theta[r] + c @ dirs[r])
                out = functional_call(net.module, params, (images,))
                per_sample_loss(out, y, "cross_entropy").mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="cnn-c16-c32-k3")
    parser.add_argument("--replicas", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--resolution", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ds = digits(0.25, 0, images=True)
    x, y, x_te, y_te = (
        torch.as_tensor(ds[k].values) for k in ("x_train", "y_train", "x_test", "y_test")
    )
    x, y, x_te, y_te = x.float(), y.long(), x_te.float(), y_te.long()
    net = build_network(args.arch, (1, 8, 8), 10)
    seeds = list(range(args.replicas))
    s = TrainSettings(epochs=args.epochs, batch_size=64, lr=1e-2)
    print(f"{args.arch}: P = {net.n_params}, R = {args.replicas}, {args.epochs} epochs")
    generic = net.generic()
    t_loop = best(lambda: sequential_training(net, x, y, x_te, s, seeds), args.repeats)
    t_ours = best(lambda: train_replicas(net, x, y, x_te, y_te, s, seeds), args.repeats)
    t_gen = best(lambda: train_replicas(generic, x, y, x_te, y_te, s, seeds), args.repeats)
    print(f"training: sequential loop {t_loop:.2f} s, replicas at once {t_ours:.2f} s "
          f"(generic vmap path {t_gen:.2f} s), ratio {t_loop / t_ours:.2f}x (goal >= 3x; "
          f"generic {t_loop / t_gen:.2f}x)")  # fmt: skip
    theta = net.init_replicas(seeds[:2])
    dirs = torch.randn(2, 2, net.n_params)
    grid = torch.linspace(-1, 1, args.resolution)
    coords = torch.cartesian_prod(grid, grid)
    t_point = best(lambda: per_point_grid(net, theta, dirs, coords, x, y), args.repeats)
    t_grid, t_grid_gen = (
        best(lambda m=m: evaluate_grid(m, theta, dirs, coords, x, y, "cross_entropy", 256.0),
             args.repeats)
        for m in (net, generic)
    )  # fmt: skip
    print(f"slices ({2 * len(coords)} points): per-point loop {t_point:.2f} s, batched "
          f"{t_grid:.2f} s (generic {t_grid_gen:.2f} s), ratio {t_point / t_grid:.2f}x "
          f"(goal >= 2x; generic {t_point / t_grid_gen:.2f}x)")  # fmt: skip
    work = 2 * len(coords) * forward_flops(net, len(y)) / 1e9
    peak = gemm_gflops()
    for name, t in (("per-point loop", t_point), ("batched", t_grid)):
        print(f"  {name}: {work / t:.1f} GFLOP/s = {work / t / peak:.0%} of this core's "
              f"float32 GEMM ({peak:.1f} GFLOP/s, 2048²)")  # fmt: skip


if __name__ == "__main__":
    main()
