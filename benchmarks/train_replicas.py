"""R = 16 replicas of small MLPs on digits: vectorised vs sequential loops vs plain vmap.

Two sequential baselines: the textbook loop a researcher writes (one
nn.Sequential, torch.optim.Adam and loss.backward() per replica, trained one
after another) and this project's own trainer called with one replica at a time.

Prints CPU times (process time with one thread: robust on a shared machine),
the best of ``--repeats`` interleaved runs of each variant, and their ratios
measured in this run (no assertion), after one warm-up run of each variant;
``--wall-threads 2`` adds wall-clock times with two threads. The variants
do the same work: the same epochs, mini-batches and per-epoch evaluation on
the full training and test sets, the initialisation (epoch 0) included, and
the full-batch gradient at the snapshot epochs, as a study records them.

    python benchmarks/train_replicas.py [--arch mlp-d1-w32 mlp-d1-w64 ...] [--replicas 16]
        [--epochs 5] [--repeats 3] [--snapshots 5] [--wall-threads 2]
"""

import argparse
import time

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

from statmech_nn.data import digits
from statmech_nn.nets import MLP as Model
from statmech_nn.seeds import derive_seed
from statmech_nn.train import TrainSettings, per_sample_loss, snapshot_epochs, train_replicas


def _mlp(model, seed):
    a = model.arch
    sizes = [model.in_dim] + [a.width] * a.depth + [model.out_dim]
    layers = []
    for i, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(fi, fo))
        if i < len(sizes) - 2:
            layers.append(torch.nn.Tanh())
    net = torch.nn.Sequential(*layers)
    torch.manual_seed(seed)
    for p in net.parameters():
        torch.nn.init.uniform_(p, -0.1, 0.1)
    return net


def textbook_loop(model, x_tr, y_tr, x_te, y_te, s, seeds):
    """One replica after another: nn.Sequential, torch.optim.Adam, loss.backward(), and the
    full-batch gradient at the snapshot epochs (the study records its norm)."""
    n = x_tr.shape[0]
    snapshots = snapshot_epochs(s.epochs, s.snapshots)
    for seed in seeds:
        net = _mlp(model, seed)
        opt = torch.optim.Adam(net.parameters(), lr=s.lr)
        gen = torch.Generator().manual_seed(derive_seed(seed, "batch-order"))
        for epoch in range(s.epochs + 1):
            if epoch > 0:
                order = torch.randperm(n, generator=gen)
                for start in range(0, n, s.batch_size):
                    idx = order[start : start + s.batch_size]
                    opt.zero_grad()
                    per_sample_loss(net(x_tr[idx]), y_tr[idx], s.loss).mean().backward()
                    opt.step()
            with torch.no_grad():
                for x, y in ((x_tr, y_tr), (x_te, y_te)):
                    out = net(x)
                    per_sample_loss(out, y, s.loss).mean(), (out.argmax(-1) == y).double().mean()
            if epoch in snapshots:
                net.zero_grad()
                per_sample_loss(net(x_tr), y_tr, s.loss).mean().backward()


def plain_vmap(model, x_tr, y_tr, x_te, y_te, s, seeds):
    """The textbook recipe: nn.Modules stacked with stack_module_state, vmap(grad) per batch."""
    nets = [_mlp(model, seed) for seed in seeds]
    params, buffers = stack_module_state(nets)
    base = nets[0].to("meta")
    opt = torch.optim.Adam(list(params.values()), lr=s.lr)

    def loss(p, b, x, y):
        return per_sample_loss(functional_call(base, (p, b), (x,)), y, s.loss).mean()

    step_grad = vmap(grad(loss))
    full_grad = vmap(grad(loss), in_dims=(0, 0, None, None))
    snapshots = snapshot_epochs(s.epochs, s.snapshots)
    forward = vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))
    gens = [torch.Generator().manual_seed(derive_seed(seed, "batch-order")) for seed in seeds]
    n = x_tr.shape[0]
    for epoch in range(s.epochs + 1):
        if epoch > 0:
            order = torch.stack([torch.randperm(n, generator=g) for g in gens])
            for start in range(0, n, s.batch_size):
                idx = order[:, start : start + s.batch_size]
                grads = step_grad(params, buffers, x_tr[idx], y_tr[idx])
                for k, p in params.items():
                    p.grad = grads[k]
                opt.step()
        with torch.no_grad():
            for x, y in ((x_tr, y_tr), (x_te, y_te)):
                out = forward(params, buffers, x)
                per_sample_loss(out, y, s.loss).mean(-1), (out.argmax(-1) == y).double().mean(-1)
        if epoch in snapshots:
            full_grad(params, buffers, x_tr, y_tr)


def timed(fn, clock=time.process_time):
    t0 = clock()
    fn()
    return clock() - t0


def measure(variants, repeats, clock):
    """Best of ``repeats`` runs of each variant, interleaved (a shared machine's load
    then slows every variant alike, and the best run is the least disturbed)."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeats):
        for name, fn in variants.items():
            best[name] = min(best[name], timed(fn, clock))
    return best


def report(t, label):
    print(f"  textbook loop, one replica after another: {t['book']:8.2f} s {label}")
    print(f"  statmech-nn trainer, one replica at a time: {t['seq']:8.2f} s {label}")
    print(f"  plain vmap (stack_module_state)         : {t['vmap']:8.2f} s {label}")
    print(f"  statmech-nn batched replicas            : {t['vec']:8.2f} s {label}")
    print(
        f"  speed-up of batched replicas vs textbook loop: {t['book'] / t['vec']:5.1f}x"
        f"   vs own trainer one at a time: {t['seq'] / t['vec']:5.1f}x"
        f"   vs plain vmap: {t['vmap'] / t['vec']:5.1f}x"
    )


def bench_arch(arch, data, args):
    """Times of the four variants for one architecture (and its ratio line)."""
    torch.set_num_threads(1)
    model = Model.build(arch, 64, 10)
    s = TrainSettings(
        epochs=args.epochs, batch_size=64, optimizer="adam", lr=2e-3, snapshots=args.snapshots
    )
    seeds = list(range(args.replicas))
    warm = TrainSettings(epochs=1, batch_size=64, optimizer="adam", lr=2e-3)
    train_replicas(model, *data, warm, seeds)  # first calls pay one-off library set-up
    plain_vmap(model, *data, warm, seeds)
    textbook_loop(model, *data, warm, seeds[:1])

    variants = {
        "vec": lambda: train_replicas(model, *data, s, seeds),
        "book": lambda: textbook_loop(model, *data, s, seeds),
        "seq": lambda: [train_replicas(model, *data, s, [seed]) for seed in seeds],
        "vmap": lambda: plain_vmap(model, *data, s, seeds),
    }
    print(
        f"{arch} ({model.n_params} parameters) on digits, R={args.replicas}, "
        f"{args.epochs} epochs, best of {args.repeats} runs each"
    )
    cpu = measure(variants, args.repeats, time.process_time)
    report(cpu, "CPU, 1 thread")
    if args.wall_threads:
        torch.set_num_threads(args.wall_threads)
        report(
            measure(variants, args.repeats, time.perf_counter),
            f"wall, {args.wall_threads} threads",
        )
    return model.n_params, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--arch",
        nargs="+",
        default=["mlp-d1-w32", "mlp-d2-w32", "mlp-d4-w32", "mlp-d1-w64", "mlp-d1-w128"],
        help="architectures (default: the default study's MLPs and the quick study's d1-w64)",
    )
    ap.add_argument("--replicas", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs each")
    ap.add_argument(
        "--snapshots",
        type=int,
        default=5,
        help="epochs with a snapshot and its full-batch gradient (the study's default: 5)",
    )
    ap.add_argument(
        "--wall-threads",
        type=int,
        default=0,
        help="also time wall clock with this many threads (0: only 1-thread CPU time)",
    )
    args = ap.parse_args()
    ds = digits(0.25, seed=0)
    data = [
        torch.as_tensor(ds[n].values).to(torch.float32 if n[0] == "x" else torch.long)
        for n in ("x_train", "y_train", "x_test", "y_test")
    ]
    rows = [(arch, *bench_arch(arch, data, args)) for arch in args.arch]
    print("\nsummary (CPU, 1 thread): batched replicas vs the textbook loop")
    head = ("architecture", "params", "textbook", "batched", "speed-up")
    print("  {:14s} {:>7s} {:>9s} {:>8s} {:>8s}".format(*head))
    for arch, n_params, t in rows:
        print(
            f"  {arch:14s} {n_params:7d} {t['book']:8.2f}s {t['vec']:7.3f}s "
            f"{t['book'] / t['vec']:7.1f}x"
        )


if __name__ == "__main__":
    main()
