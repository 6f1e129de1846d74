"""Hopfield dynamics kernels: patterns, Hebbian couplings, energy, asynchronous zero-T and
Glauber dynamics (tensors in and out).

Notation (THEORY.md, Amit–Gutfreund–Sompolinsky): P patterns ξ^μ ∈ {±1}^N,
couplings J_ij = (1/N) Σ_μ ξ_i^μ ξ_j^μ with J_ii = 0, energy
E = −½ Σ_{i≠j} J_ij s_i s_j, retrieval overlap m = (1/N) Σ_i ξ_i^1 s_i.

The dynamics run on the integer couplings N·J (exact in float32 while
|N h_i| <= N·P < 2**24), so ties h_i = 0 and energy changes are exact. Many
independent runs (loads, starts, temperatures, trials) go at once; each run
names the coupling matrix it uses.
"""

from dataclasses import dataclass

import torch


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
