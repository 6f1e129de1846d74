"""Hopfield network: Hebbian couplings, asynchronous zero-T and Glauber dynamics, capacity.

Notation (THEORY.md, Amit–Gutfreund–Sompolinsky): P patterns ξ^μ ∈ {±1}^N,
couplings J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ with J_ii = 0, energy
E = −½ Σ_{i≠j} J_ij s_i s_j, retrieval overlap m = (1/N) Σ_i ξ_i^1 s_i.

The dynamics run on the integer couplings N·J (exact in float32 while
|N h_i| <= N·P < 2**24), so ties h_i = 0 and energy changes are exact. Many
independent runs (loads, starts, temperatures, trials) go at once; each run
names the coupling matrix it uses.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from statmech_nn import theory
from statmech_nn.io import labelled
from statmech_nn.seeds import derive_seed

START_KINDS = ("stored", "corrupted")


def random_patterns(
    n_sets: int, n_patterns: int, n: int, generator: torch.Generator, dtype=torch.float64
) -> torch.Tensor:
    """``n_sets`` independent sets of ``n_patterns`` unbiased ±1 patterns: (set, P, N)."""
    bits = torch.randint(0, 2, (n_sets, n_patterns, n), generator=generator)
    return (2 * bits - 1).to(dtype)


def hebbian_couplings(patterns: torch.Tensor, normalise: bool = True) -> torch.Tensor:
    """J = ξᵀξ / N with zero diagonal for patterns (..., P, N); returns (..., N, N).

    ``normalise=False`` gives the integer matrix N·J (exact in any float type).
    """
    n = patterns.shape[-1]
    couplings = patterns.transpose(-1, -2) @ patterns
    couplings = couplings - torch.diag_embed(torch.diagonal(couplings, dim1=-2, dim2=-1))
    return couplings / n if normalise else couplings


def energy(couplings: torch.Tensor, spins: torch.Tensor) -> torch.Tensor:
    """E = −½ sᵀJs (total, not per spin) for couplings (..., N, N) and spins (..., N)."""
    return -0.5 * torch.einsum("...i,...ij,...j->...", spins, couplings, spins)


def corrupt(spins: torch.Tensor, flip_fraction: float, generator: torch.Generator) -> torch.Tensor:
    """Copy of ``spins`` (..., N) with round(flip_fraction · N) distinct random sites flipped."""
    n = spins.shape[-1]
    n_flip = round(flip_fraction * n)
    ranks = torch.rand(spins.shape, generator=generator).argsort(dim=-1).argsort(dim=-1)
    return torch.where(ranks < n_flip, -spins, spins)


@dataclass(frozen=True)
class Trajectory:
    """Result of :func:`asynchronous_dynamics` for a batch of B runs.

    state: final spins (B, N). energy: E/N at each record (B, R+1), record 0 the
    start. overlap: m with the run's reference pattern at each record (B, R+1).
    flips: spins changed per sweep (B, max_sweeps). sweeps_to_fixed_point: sweeps
    with at least one flip before the first sweep without (B,), −1 where none was
    reached (always at T > 0). time: record times in sweeps (R+1,).
    """

    state: torch.Tensor
    energy: torch.Tensor
    overlap: torch.Tensor
    flips: torch.Tensor
    sweeps_to_fixed_point: torch.Tensor
    time: torch.Tensor


def asynchronous_dynamics(
    couplings: torch.Tensor,
    spins: torch.Tensor,
    reference: torch.Tensor,
    *,
    temperature: float | torch.Tensor = 0.0,
    max_sweeps: int,
    generator: torch.Generator,
    coupling_set: torch.Tensor | None = None,
    scale: float = 1.0,
    records_per_sweep: int = 1,
) -> Trajectory:
    """Asynchronous single-spin dynamics in random sequential order, B runs at once.

    Each sweep visits all N sites once in a fresh random order per run. At
    T = 0 a site takes the sign of its local field h_i = Σ_j J_ij s_j (kept when
    h_i = 0), so E = −½ sᵀJs never increases; at T > 0 (Glauber, heat bath)
    s_i = +1 with probability 1 / (1 + exp(−2 h_i / T)), which samples exp(−E/T).
    A zero-T run stops at its first sweep without a flip (a fixed point, which
    it would keep forever; later records repeat it).

    Random numbers, for sweep w = 0, 1, ...: ``torch.rand(B, N)`` whose argsort
    per row is run b's visiting order in its sweep w, then (only if some T > 0)
    ``torch.rand(B, N, float64)`` whose entry (b, k) decides the heat-bath
    update at run b's k-th visit (up when u < 1 / (1 + exp(−2h/T))). A
    site-by-site loop drawing the same numbers gives the same trajectory. The
    fields are kept up to date and each step moves every run straight to its
    next flip, so the cost is O(N) per flip rather than a Python step per site.

    Args:
        couplings: (K, N, N) symmetric couplings with zero diagonal. With
            integer couplings (e.g. N·J of the Hebb rule, ``scale=1/N``) fields,
            ties h_i = 0 and energies are exact.
        spins: (B, N) ±1 start states.
        reference: (K, N) pattern the overlap m = ξ·s/N is measured against.
        temperature: scalar or (B,) temperatures, 0 for zero-T dynamics.
        max_sweeps: sweeps per run at most.
        generator: source of the random numbers above.
        coupling_set: (B,) index of each run's couplings (default: run b uses set b).
        scale: the physical couplings are ``scale * couplings``.
        records_per_sweep: energy and overlap records per sweep, evenly spaced.
    """
    n_sets, n, _ = couplings.shape
    batch = spins.shape[0]
    if coupling_set is None:
        if n_sets != batch:
            raise ValueError("asynchronous_dynamics: pass coupling_set when K != B")
        coupling_set = torch.arange(batch)
    dtype = couplings.dtype
    temperature = torch.as_tensor(temperature, dtype=torch.float64).expand(batch)
    hot = temperature > 0
    any_hot = bool(hot.any())
    two_beta = torch.where(hot, 2.0 * scale / temperature.clamp_min(1e-300), 0.0)
    s = spins.to(dtype).clone()
    h = _fields(couplings, coupling_set, s)
    ref = reference.to(torch.float64)[coupling_set]
    e = -0.5 * scale * (s.double() * h.double()).sum(1)
    m = (ref * s.double()).sum(1) / n
    positions = torch.arange(n)

    # Random numbers of sweep w are drawn once, when the first run reaches it,
    # and dropped when the last run has left it.
    drawn: list[tuple[torch.Tensor, torch.Tensor | None] | None] = []

    def draws(w: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        while len(drawn) <= w:
            order = torch.rand(batch, n, generator=generator).argsort(dim=1).to(torch.int32)
            u = torch.rand(batch, n, generator=generator, dtype=torch.float64) if any_hot else None
            drawn.append((order, u))
        return drawn[w]

    sweep = torch.zeros(batch, dtype=torch.long)
    pos = torch.zeros(batch, dtype=torch.long)
    order, uniforms = (t.clone() if t is not None else None for t in draws(0))
    flips = torch.zeros(batch, max_sweeps, dtype=torch.long)
    to_fixed = torch.full((batch,), -1, dtype=torch.long)
    # Piecewise-constant history: (visits completed, E/N, m) after every step.
    last_visit = torch.zeros(batch, dtype=torch.long)
    visits, energies, overlaps = [last_visit.clone()], [e / n], [m.clone()]
    while True:
        runs = ((to_fixed < 0) & (sweep < max_sweeps)).nonzero()[:, 0]
        if runs.numel() == 0:
            break
        sites = order[runs].long()
        s_ord = s[runs].gather(1, sites)
        h_ord = h[runs].gather(1, sites)
        flip = s_ord * h_ord < 0
        if any_hot:
            p_up = torch.sigmoid(two_beta[runs, None] * h_ord.double())
            heat_bath = torch.where(uniforms[runs] < p_up, 1.0, -1.0).to(dtype) != s_ord
            flip = torch.where(hot[runs, None], heat_bath, flip)
        flip &= positions >= pos[runs, None]
        has = flip.any(1)
        if not bool(has.all()):
            _end_sweep(runs[~has], sweep, pos, flips, to_fixed, hot, order, uniforms, draws)
            running = (to_fixed < 0) & (sweep < max_sweeps)
            oldest = int(sweep[running].min()) if bool(running.any()) else len(drawn)
            for w in range(oldest):  # no run needs these random numbers any more
                drawn[w] = None
        runs, flip, sites = runs[has], flip[has], sites[has]
        if runs.numel() == 0:
            continue
        k = flip.to(torch.int8).argmax(1)  # first flipping position at or after pos
        site = sites.gather(1, k[:, None])[:, 0]
        step = -2.0 * s[runs, site]
        e[runs] -= scale * (step * h[runs, site]).double()  # ΔE = −Δs_j h_j (J_jj = 0)
        m[runs] += ref[runs, site] * step.double() / n
        h[runs] += couplings[coupling_set[runs], site] * step[:, None]
        s[runs, site] = -s[runs, site]
        pos[runs] = k + 1
        flips[runs, sweep[runs]] += 1
        last_visit[runs] = sweep[runs] * n + k + 1
        visits.append(last_visit.clone())
        energies.append(e / n)
        overlaps.append(m.clone())
    marks = torch.round(torch.arange(max_sweeps * records_per_sweep + 1) * n / records_per_sweep)
    marks = marks.long().expand(batch, -1).contiguous()
    latest = torch.searchsorted(torch.stack(visits, dim=1), marks, right=True) - 1
    return Trajectory(
        s.to(spins.dtype),
        torch.stack(energies, dim=1).gather(1, latest),
        torch.stack(overlaps, dim=1).gather(1, latest),
        flips,
        to_fixed,
        torch.arange(marks.shape[1], dtype=torch.float64) / records_per_sweep,
    )


def _end_sweep(runs, sweep, pos, flips, to_fixed, hot, order, uniforms, draws) -> None:
    """Runs ``runs`` found no flip in the rest of their sweep: fixed point or next sweep."""
    if runs.numel() == 0:
        return
    fixed = (flips[runs, sweep[runs]] == 0) & ~hot[runs]
    to_fixed[runs[fixed]] = sweep[runs[fixed]]
    sweep[runs] += 1
    pos[runs] = 0
    moving = runs[~fixed]
    for w in sweep[moving].unique().tolist():
        if w < flips.shape[1]:
            rows = moving[sweep[moving] == w]
            new_order, new_u = draws(w)
            order[rows] = new_order[rows]
            if uniforms is not None:
                uniforms[rows] = new_u[rows]


def _fields(couplings: torch.Tensor, coupling_set: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """h_b = J_{set(b)} s_b, one matrix product per coupling set (J is symmetric)."""
    out = torch.empty_like(s)
    for k in coupling_set.unique().tolist():
        rows = (coupling_set == k).nonzero()[:, 0]
        out[rows] = s[rows] @ couplings[k]
    return out


def critical_load(alpha: np.ndarray, fraction: np.ndarray, level: float = 0.5) -> np.ndarray:
    """First load at which ``fraction`` falls below ``level``, linearly interpolated; NaN if never.

    alpha (A,) increasing; fraction (..., A), e.g. the fraction of runs that retrieve;
    returns (...).
    """
    fraction = np.asarray(fraction, dtype=np.float64)
    below = fraction < level
    j = np.argmax(below, axis=-1)[..., None]  # first load below the level (0 if none)
    f1 = np.take_along_axis(fraction, j, -1)[..., 0]
    f0 = np.take_along_axis(fraction, np.maximum(j - 1, 0), -1)[..., 0]
    a1, a0 = alpha[j[..., 0]], alpha[np.maximum(j[..., 0] - 1, 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(j[..., 0] == 0, a1, a0 + (f0 - level) * (a1 - a0) / (f0 - f1))
    return np.where(below.any(-1), crossing, np.nan)


def bootstrap_critical_load(
    alpha: np.ndarray, retrieved: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap standard error of :func:`critical_load` of the retrieving fraction.

    retrieved (..., A, trials) booleans. A trial is one pattern set seen at every
    load, so whole trials are resampled with replacement (the same draw at every
    load), ``resamples`` times; the error is the standard deviation of α_c over the
    resamples whose fraction crosses ½ (Efron & Tibshirani, "An Introduction to the
    Bootstrap", 1993, ch. 6); NaN where fewer than two do. Returns (...).
    """
    trials = retrieved.shape[-1]
    draw = rng.integers(0, trials, (resamples, trials))
    fractions = np.moveaxis(retrieved[..., draw].mean(-1), -2, -1)  # (..., resamples, A)
    values = critical_load(alpha, fractions)
    finite = np.isfinite(values)
    count = finite.sum(-1)
    enough = count >= 2
    mean = np.where(finite, values, 0.0).sum(-1) / np.maximum(count, 1)
    squares = np.where(finite, values - mean[..., None], 0.0) ** 2
    return np.where(enough, np.sqrt(squares.sum(-1) / np.maximum(count - 1, 1)), np.nan)


def _integer_dtype(n: int, n_patterns: int) -> torch.dtype:
    # |N h_i| <= N P, and float32 holds integers exactly below 2**24.
    return torch.float32 if n * (n_patterns + 1) < 2**24 else torch.float64


def capacity_sweep(
    N: Sequence[int],
    alpha: Sequence[float],
    trials: int,
    flip_fraction: float,
    max_sweeps: int,
    retrieval_threshold: float,
    seed: int,
    bootstrap_resamples: int = 1000,
    theory_points: int = 400,
    memory_mb: float = 512.0,
) -> xr.Dataset:
    """Retrieval overlap after zero-T asynchronous dynamics, per N and load α = P/N.

    For each N, ``trials`` independent pattern sets are drawn; load α stores the
    first P = round(α N) patterns of each set (so curves are smooth in α). Runs
    start at pattern 1 ("stored") and at pattern 1 with a fraction
    ``flip_fraction`` of its spins flipped ("corrupted"), and stop at a fixed
    point (or after ``max_sweeps``). A run retrieves when m >= ``retrieval_threshold``;
    the measured α_c(N) is where the fraction retrieving first falls below ½, with a
    bootstrap error over trials (``bootstrap_resamples`` resamples).
    The AGS zero-T curve and its α_c are included. Loads are simulated together
    in groups whose coupling matrices fit in ``memory_mb``.
    """
    alpha_grid = np.asarray(alpha, dtype=np.float64)
    if np.any(np.diff(alpha_grid) <= 0) or np.any(alpha_grid <= 0):
        raise ValueError("capacity_sweep: alpha must be positive and strictly increasing")
    n_alpha, n_start = len(alpha_grid), len(START_KINDS)
    shape = (len(N), n_alpha, n_start, trials)
    m_final = np.empty(shape)
    to_fixed = np.empty(shape, dtype=np.int64)
    load = np.empty((len(N), n_alpha))
    for i, n in enumerate(N):
        n = int(n)
        gen = torch.Generator().manual_seed(derive_seed(seed, "capacity", n))
        p = np.maximum(np.rint(alpha_grid * n).astype(np.int64), 1)
        load[i] = p / n
        dtype = _integer_dtype(n, int(p.max()))
        patterns = random_patterns(trials, int(p.max()), n, gen, dtype=dtype)
        stored = patterns[:, 0]
        per_load = trials * n * n * torch.finfo(dtype).bits // 8
        group = max(1, int(memory_mb * 2**20 // per_load) - 1)
        running = torch.zeros(trials, n, n, dtype=dtype)  # Σ_μ ξ^μ ξ^μᵀ over patterns so far
        p_done = 0
        for g0 in range(0, n_alpha, group):
            loads = range(g0, min(g0 + group, n_alpha))
            n_loads = len(loads)
            couplings = torch.empty(n_loads, trials, n, n, dtype=dtype)
            for j, a in enumerate(loads):  # cumulative: each pattern enters the sum once
                new = patterns[:, p_done : p[a]]
                running.baddbmm_(new.transpose(1, 2), new)
                p_done = int(p[a])
                couplings[j] = running
                couplings[j].diagonal(dim1=-2, dim2=-1).zero_()
            # runs ordered (load, start, trial); run uses coupling set (load, trial)
            coupling_set = (
                torch.arange(n_loads)[:, None, None] * trials + torch.arange(trials)
            ).expand(n_loads, n_start, trials)
            starts = stored.expand(n_loads, n_start, trials, n).clone()
            starts[:, 1] = corrupt(starts[:, 1], flip_fraction, gen)
            traj = asynchronous_dynamics(
                couplings.reshape(-1, n, n),
                starts.reshape(-1, n),
                stored.repeat(n_loads, 1),
                max_sweeps=max_sweeps,
                generator=gen,
                coupling_set=coupling_set.reshape(-1),
                scale=1.0 / n,
            )
            m_final[i, loads] = traj.overlap[:, -1].reshape(n_loads, n_start, trials).numpy()
            to_fixed[i, loads] = traj.sweeps_to_fixed_point.reshape(n_loads, n_start, trials)
    retrieved = m_final >= retrieval_threshold
    fraction = retrieved.mean(axis=-1)
    by_start = np.moveaxis(retrieved, 1, -2)  # (N, start, alpha, trial)
    alpha_c = np.stack([critical_load(load[i], fraction[i].T) for i in range(len(N))])
    rng = np.random.default_rng(derive_seed(seed, "capacity_bootstrap"))
    alpha_c_err = np.stack(
        [
            bootstrap_critical_load(load[i], by_start[i], bootstrap_resamples, rng)
            for i in range(len(N))
        ]
    )
    alpha_c_theory, m_c_theory = theory.ags_critical_point()
    alpha_theory = np.linspace(alpha_grid[0] / 4, max(alpha_grid[-1], 0.2), theory_points)
    dims = ("N", "alpha", "start", "trial")
    sem = m_final.std(-1, ddof=1) / np.sqrt(trials) if trials > 1 else np.zeros(shape[:-1])
    return xr.Dataset(
        {
            "m": labelled(m_final, dims, "retrieval overlap at the end of the dynamics"),
            "sweeps_to_fixed_point": labelled(
                to_fixed, dims, "sweeps with flips before a fixed point (-1: none reached)"
            ),
            "load": labelled(load, ("N", "alpha"), "realised load P/N"),
            "m_mean": labelled(m_final.mean(-1), dims[:-1], "mean retrieval overlap"),
            "m_sem": labelled(sem, dims[:-1], "standard error of the mean retrieval overlap"),
            "retrieval_fraction": labelled(
                fraction, dims[:-1], f"fraction of runs with m >= {retrieval_threshold}"
            ),
            "alpha_c": labelled(
                alpha_c, ("N", "start"), "measured capacity: load where half the runs retrieve"
            ),
            "alpha_c_err": labelled(
                alpha_c_err, ("N", "start"), "bootstrap standard error of alpha_c over trials"
            ),
            "m_theory": labelled(
                theory.ags_retrieval_overlap(alpha_theory),
                ("alpha_theory",),
                "AGS zero-T replica-symmetric retrieval overlap",
            ),
            "alpha_c_theory": labelled(alpha_c_theory, (), "AGS zero-T capacity alpha_c"),
            "m_c_theory": labelled(m_c_theory, (), "AGS retrieval overlap at alpha_c"),
        },
        coords={
            "N": ("N", np.asarray(N, dtype=np.int64), {"long_name": "neurons", "units": "1"}),
            "alpha": ("alpha", alpha_grid, {"long_name": "nominal load P/N", "units": "1"}),
            "start": ("start", list(START_KINDS), {"long_name": "start state"}),
            "trial": ("trial", np.arange(trials), {"long_name": "trial", "units": "1"}),
            "alpha_theory": (
                "alpha_theory",
                alpha_theory,
                {"long_name": "load P/N (theory grid)", "units": "1"},
            ),
        },
        attrs={
            "flip_fraction": flip_fraction,
            "retrieval_threshold": retrieval_threshold,
            "max_sweeps": max_sweeps,
            "bootstrap_resamples": bootstrap_resamples,
        },
    )


def energy_descent(
    N: int,
    alpha: float,
    temperatures: Sequence[float],
    trials: int,
    sweeps: int,
    records_per_sweep: int,
    flip_fraction: float,
    seed: int,
) -> xr.Dataset:
    """Energy per spin and overlap along asynchronous dynamics at several temperatures.

    Each trial is one network of N neurons storing P = round(α N) patterns; runs
    start from a uniformly random state ("random") and from pattern 1 with a
    fraction ``flip_fraction`` flipped ("corrupted"), at every temperature.
    T = 0 is the sign rule (E never increases), T > 0 Glauber dynamics. E/N of
    the stored pattern itself is kept as a reference.
    """
    gen = torch.Generator().manual_seed(derive_seed(seed, "energy_descent"))
    p = max(round(alpha * N), 1)
    n_temp, start_kinds = len(temperatures), ("random", "corrupted")
    dtype = _integer_dtype(N, p)
    patterns = random_patterns(trials, p, N, gen, dtype=dtype)
    couplings = hebbian_couplings(patterns, normalise=False)
    stored = patterns[:, 0]
    random_start = (2 * torch.randint(0, 2, (n_temp, trials, N), generator=gen) - 1).to(dtype)
    corrupted = corrupt(stored.expand(n_temp, trials, N), flip_fraction, gen)
    starts = torch.stack([random_start, corrupted], dim=1)  # (temperature, start, trial, N)
    temp = torch.as_tensor(temperatures, dtype=torch.float64).repeat_interleave(2 * trials)
    traj = asynchronous_dynamics(
        couplings,
        starts.reshape(-1, N),
        stored,
        temperature=temp,
        max_sweeps=sweeps,
        generator=gen,
        coupling_set=torch.arange(trials).repeat(2 * n_temp),
        scale=1.0 / N,
        records_per_sweep=records_per_sweep,
    )
    shape = (n_temp, 2, trials, -1)
    pattern_energy = energy(couplings.double(), stored.double()) / N**2
    dims = ("temperature", "start", "trial", "t")
    return xr.Dataset(
        {
            "energy": labelled(traj.energy.reshape(shape).numpy(), dims, "energy per spin E/N"),
            "m": labelled(traj.overlap.reshape(shape).numpy(), dims, "overlap with pattern 1"),
            "flips": labelled(
                traj.flips.reshape(shape).numpy(), dims[:-1] + ("sweep",), "spins flipped per sweep"
            ),
            "pattern_energy": labelled(
                pattern_energy.numpy(), ("trial",), "energy per spin of the stored pattern 1"
            ),
        },
        coords={
            "temperature": (
                "temperature",
                np.asarray(temperatures, dtype=np.float64),
                {"long_name": "temperature T (0: sign rule, >0: Glauber)", "units": "1"},
            ),
            "start": ("start", list(start_kinds), {"long_name": "start state"}),
            "trial": ("trial", np.arange(trials), {"long_name": "trial", "units": "1"}),
            "t": ("t", traj.time.numpy(), {"long_name": "time", "units": "sweeps"}),
            "sweep": ("sweep", np.arange(1, sweeps + 1), {"long_name": "sweep", "units": "1"}),
        },
        attrs={"N": N, "P": p, "alpha": p / N, "flip_fraction": flip_fraction},
    )
