"""Binary restricted Boltzmann machines with exact log-likelihoods (THEORY.md).

E(v, h) = −aᵀv − bᵀh − vᵀWh with v ∈ {0,1}^n_v, h ∈ {0,1}^n_h. Free energies
F(v) = −aᵀv − Σ_j softplus(b_j + (vW)_j) and, symmetrically,
F(h) = −bᵀh − Σ_i softplus(a_i + (Wh)_i); log p(v) = −F(v) − log Z with
log Z = logsumexp_v −F(v) = logsumexp_h −F(h), enumerated over the smaller
layer (at most MAX_ENUMERATED_UNITS units), so training curves are exact.

Training (Hinton 2002; Tieleman 2008): the log-likelihood gradient is
⟨v hᵀ⟩_data − ⟨v hᵀ⟩_model; "cd" estimates the model term with k Gibbs steps
started at the mini-batch, "pcd" with k steps of persistent chains, and
"exact" computes it by enumeration. R replicas (own initialisation and
batch order) train at once: every parameter has a leading replica dim.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr
from torch.nn.functional import softplus

from statmech_nn import ising
from statmech_nn.errors import InputError
from statmech_nn.io import labelled
from statmech_nn.seeds import derive_seed

MAX_ENUMERATED_UNITS = 20
METHODS = ("cd", "pcd", "exact")
SCHEDULES = ("constant", "linear")


@dataclass(frozen=True)
class RBM:
    """Parameters with a leading replica dim: a (R, n_v), b (R, n_h), W (R, n_v, n_h)."""

    a: torch.Tensor
    b: torch.Tensor
    W: torch.Tensor

    def __add__(self, other: "RBM") -> "RBM":
        return RBM(self.a + other.a, self.b + other.b, self.W + other.W)

    def scaled(self, factor: float) -> "RBM":
        return RBM(factor * self.a, factor * self.b, factor * self.W)


def all_binary(n: int, dtype=torch.float64) -> torch.Tensor:
    """All 2^n binary vectors, (2^n, n)."""
    return ((torch.arange(2**n)[:, None] >> torch.arange(n)) & 1).to(dtype)


def joint_energy(v: torch.Tensor, h: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """E(v, h) = −aᵀv − bᵀh − vᵀWh for v (R, S, n_v), h (R, S, n_h); returns (R, S)."""
    return -(
        (v * rbm.a[:, None]).sum(-1)
        + (h * rbm.b[:, None]).sum(-1)
        + torch.einsum("rsi,rij,rsj->rs", v, rbm.W, h)
    )


def free_energy(v: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """F(v) = −aᵀv − Σ_j softplus(b_j + (vW)_j) for v (R, S, n_v) or (S, n_v); (R, S)."""
    v = v.expand(rbm.a.shape[0], *v.shape[-2:]) if v.dim() == 2 else v
    return -(v * rbm.a[:, None]).sum(-1) - softplus(rbm.b[:, None] + v @ rbm.W).sum(-1)


def hidden_free_energy(h: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """F(h) = −bᵀh − Σ_i softplus(a_i + (Wh)_i) for h (R, S, n_h) or (S, n_h); (R, S)."""
    h = h.expand(rbm.b.shape[0], *h.shape[-2:]) if h.dim() == 2 else h
    return -(h * rbm.b[:, None]).sum(-1) - softplus(rbm.a[:, None] + h @ rbm.W.transpose(1, 2)).sum(
        -1
    )


def _enumerate_smaller_layer(rbm: RBM) -> tuple[bool, torch.Tensor]:
    n_v, n_h = rbm.W.shape[-2:]
    visible = n_v <= n_h
    n = min(n_v, n_h)
    if n > MAX_ENUMERATED_UNITS:
        raise ValueError(
            f"exact log Z enumerates 2^{n} states; at most {MAX_ENUMERATED_UNITS} units "
            f"in the smaller layer are supported (n_visible={n_v}, n_hidden={n_h})"
        )
    return visible, all_binary(n, rbm.W.dtype)


def log_partition(rbm: RBM) -> torch.Tensor:
    """Exact log Z per replica (R,), enumerating the smaller layer."""
    visible, states = _enumerate_smaller_layer(rbm)
    neg_f = -(free_energy(states, rbm) if visible else hidden_free_energy(states, rbm))
    return torch.logsumexp(neg_f, dim=-1)


def log_likelihood(data: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """Mean exact log p(v) over the rows of data (S, n_v), per replica (R,), in nats."""
    return -free_energy(data, rbm).mean(-1) - log_partition(rbm)


def best_log_likelihood(data: torch.Tensor) -> float:
    """The largest mean log-likelihood any model can reach on ``data``: −H(p̂), in nats.

    p̂ is the empirical distribution of the rows; for K distinct, equally
    frequent patterns this is −ln K.
    """
    _, counts = torch.unique(data, dim=0, return_counts=True)
    p = counts.double() / counts.sum()
    return float((p * torch.log(p)).sum())


def _statistics(v: torch.Tensor, p_h: torch.Tensor, weights: torch.Tensor | None = None) -> RBM:
    """Weighted averages (⟨v⟩, ⟨h⟩, ⟨v hᵀ⟩) over dim 1; uniform weights when None."""
    if weights is None:
        weights = torch.full(v.shape[:2], 1.0 / v.shape[1], dtype=v.dtype)
    return RBM(
        torch.einsum("rs,rsi->ri", weights, v),
        torch.einsum("rs,rsj->rj", weights, p_h),
        torch.einsum("rs,rsi,rsj->rij", weights, v, p_h),
    )


def hidden_probabilities(v: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """p(h_j = 1 | v) = σ(b_j + (vW)_j) for v (R, S, n_v); (R, S, n_h)."""
    return torch.sigmoid(rbm.b[:, None] + v @ rbm.W)


def visible_probabilities(h: torch.Tensor, rbm: RBM) -> torch.Tensor:
    """p(v_i = 1 | h) = σ(a_i + (Wh)_i) for h (R, S, n_h); (R, S, n_v)."""
    return torch.sigmoid(rbm.a[:, None] + h @ rbm.W.transpose(1, 2))


def model_statistics(rbm: RBM) -> RBM:
    """Exact (⟨v⟩, ⟨h⟩, ⟨v hᵀ⟩) under the model, by enumerating the smaller layer."""
    visible, states = _enumerate_smaller_layer(rbm)
    n_rep = rbm.a.shape[0]
    states = states.expand(n_rep, *states.shape)
    if visible:
        weights = torch.softmax(-free_energy(states, rbm), dim=-1)
        return _statistics(states, hidden_probabilities(states, rbm), weights)
    weights = torch.softmax(-hidden_free_energy(states, rbm), dim=-1)
    p_v = visible_probabilities(states, rbm)
    return RBM(
        torch.einsum("rs,rsi->ri", weights, p_v),
        torch.einsum("rs,rsj->rj", weights, states),
        torch.einsum("rs,rsi,rsj->rij", weights, p_v, states),
    )


def data_statistics(v: torch.Tensor, rbm: RBM) -> RBM:
    """(⟨v⟩, ⟨h⟩, ⟨v hᵀ⟩) with v from the data (R, S, n_v) and h averaged given v."""
    return _statistics(v, hidden_probabilities(v, rbm))


def exact_gradient(data: torch.Tensor, rbm: RBM) -> RBM:
    """∇ of the mean exact log-likelihood of ``data`` (S, n_v): data minus model statistics."""
    v = data.expand(rbm.a.shape[0], *data.shape)
    return data_statistics(v, rbm) + model_statistics(rbm).scaled(-1.0)


def gibbs_steps(v: torch.Tensor, rbm: RBM, k: int, generator: torch.Generator) -> torch.Tensor:
    """k block-Gibbs steps v -> h -> v' from v (R, S, n_v); returns the sampled v'."""
    for _ in range(k):
        p_h = hidden_probabilities(v, rbm)
        h = (torch.rand(p_h.shape, generator=generator, dtype=v.dtype) < p_h).to(v.dtype)
        p_v = visible_probabilities(h, rbm)
        v = (torch.rand(p_v.shape, generator=generator, dtype=v.dtype) < p_v).to(v.dtype)
    return v


def bars_and_stripes(size: int) -> torch.Tensor:
    """All distinct size×size bars-and-stripes images, flattened: (2^(size+1) − 2, size²).

    A "stripes" image sets whole rows on or off, a "bars" image whole columns;
    the all-off and all-on images are both, and counted once.
    """
    rows = all_binary(size)
    stripes = rows[:, :, None].expand(-1, size, size)
    bars = rows[:, None, :].expand(-1, size, size)
    images = torch.cat([stripes, bars]).reshape(-1, size * size)
    return torch.unique(images, dim=0)


def ising_visible(spins: np.ndarray) -> torch.Tensor:
    """Ising configurations (S, L, L) of ±1 as visible vectors (S, L²) of {0, 1}."""
    spins = torch.as_tensor(np.asarray(spins), dtype=torch.float64)
    return ((spins + 1) / 2).reshape(spins.shape[0], -1)


def training_data(spec: dict, ising_ds: xr.Dataset | None = None) -> tuple[torch.Tensor, dict]:
    """The visible vectors (S, n_v) of a data set spec and its reference values.

    spec ``{"kind": "bars_and_stripes", "size": n}``: all distinct n×n images.
    spec ``{"kind": "ising", "temperature": T, "samples": S, ...}``: the first S
    configurations kept at temperature T in an Ising Dataset (from
    :func:`statmech_nn.ising.thermodynamics`); when the lattice can be enumerated
    the references include the mean exact log-probability of the data under the
    Ising distribution that generated it ("ising_loglik") and minus that
    distribution's entropy, the best expected log-likelihood on new samples
    ("ising_neg_entropy").
    """
    if spec["kind"] == "bars_and_stripes":
        return bars_and_stripes(spec["size"]), {"size": spec["size"]}
    if int(ising_ds.attrs["L"]) != spec.get("L", ising_ds.attrs["L"]):
        raise InputError(
            f"Ising samples of an L = {ising_ds.attrs['L']} lattice given for a data set "
            f"of L = {spec['L']}"
        )
    temps = ising_ds["temperature"].values
    j = int(np.argmin(np.abs(temps - spec["temperature"])))
    if abs(temps[j] - spec["temperature"]) > 1e-9:
        raise InputError(
            f"Ising samples at T = {spec['temperature']} were not simulated "
            f"(temperatures: {', '.join(f'{t:g}' for t in temps)})"
        )
    spins = ising_ds["samples"].isel(temperature=j).values
    if spins.shape[0] < spec["samples"]:
        raise InputError(
            f"{spec['samples']} Ising samples requested at T = {temps[j]:g}, "
            f"only {spins.shape[0]} kept (raise ising.keep_samples)"
        )
    spins = spins[: spec["samples"]]
    if not np.isin(spins, (-1, 1)).all():
        raise InputError(f"Ising samples at T = {temps[j]:g} hold values other than ±1")
    refs = {"temperature": float(temps[j]), "L": int(ising_ds.attrs["L"])}
    if spins.shape[-1] ** 2 <= ising.MAX_ENUMERATED_SPINS:
        log_p = ising.exact_log_probability(torch.as_tensor(spins), float(temps[j]))
        refs["ising_loglik"] = float(log_p.mean())
        refs["ising_neg_entropy"] = -ising.exact_entropy(spins.shape[-1], float(temps[j]))
    return ising_visible(spins), refs


def learning_rates(learning_rate: float, schedule: str, updates: int) -> np.ndarray:
    """Step size of every update: ``constant``, or ``linear`` decay from learning_rate to 0
    over the run (Tieleman 2008: lets sampled gradients settle instead of oscillating)."""
    if schedule not in SCHEDULES:
        raise ValueError(
            f"unknown learning-rate schedule {schedule!r}; expected one of {SCHEDULES}"
        )
    if schedule == "constant":
        return np.full(updates, learning_rate)
    return learning_rate * (1 - np.arange(updates) / updates)


COLLAPSE_NATS = 0.2  # a drop from the peak larger than this flags the run (issue 16 item 4)
FLAGS = {  # name: (long_name, units)
    "below_start": ("final log-likelihood below the initial model's (or not finite)", "1"),
    "below_uniform": ("final log-likelihood below the uniform model's (or not finite)", "1"),
    "drop_from_peak": ("peak minus final log-likelihood: a collapse after a peak", "nat"),
    "collapsed": (f"final log-likelihood over {COLLAPSE_NATS:g} nat below the run's peak", "1"),
}


def learning_flags(loglik: np.ndarray, n_visible: int) -> dict[str, np.ndarray]:
    """Runs that did not learn, from exact log-likelihood curves (replica, epoch): final
    below the start, final below the uniform model −n_v ln 2 (a NaN counts as both), and
    the drop from the curve's peak to its end, and whether that drop exceeds
    :data:`COLLAPSE_NATS` (a run that learned and then lost it)."""
    final = loglik[:, -1]
    drop = np.nanmax(loglik, axis=1) - final
    return {
        "below_start": ~(final >= loglik[:, 0]),
        "below_uniform": ~(final >= -n_visible * math.log(2)),
        "drop_from_peak": drop,
        "collapsed": ~(drop <= COLLAPSE_NATS),
    }


def flagged(flags: Mapping) -> np.ndarray:
    """Replicas flagged by any of :func:`learning_flags`' boolean flags."""
    return np.asarray(flags["below_start"] | flags["below_uniform"] | flags["collapsed"])


def train(
    data: torch.Tensor,
    method: str,
    hidden: int,
    replicas: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    momentum: float,
    k: int,
    chains: int,
    init_std: float,
    seed: int,
    schedule: str = "constant",
    weight_decay: float = 0.0,
) -> xr.Dataset:
    """Train R replicas of a binary RBM on ``data`` (S, n_v) by gradient ascent on log p.

    Each epoch visits the data once in mini-batches (own order per replica);
    the update is SGD with momentum on the data-minus-model statistics, the
    model term by CD-k, PCD-k (``chains`` persistent chains per replica) or
    exact enumeration, minus ``weight_decay`` · W (an L2 penalty on the weights);
    the step size follows ``schedule`` (:func:`learning_rates`).
    W starts N(0, init_std²), b at 0, a at the log-odds of the data's visible
    means (Hinton, "A Practical Guide to Training RBMs", 2010). The exact mean
    log-likelihood is recorded before training and after every epoch, with the
    data set's best possible value −H(p̂), the uniform model's −n_v ln 2 and the
    flags of :func:`learning_flags`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown RBM training method {method!r}; expected one of {METHODS}")
    gen = torch.Generator().manual_seed(derive_seed(seed, "rbm", method))
    data = data.to(torch.float64)
    n_samples, n_v = data.shape
    mean = data.mean(0).clamp(0.01, 0.99)
    rbm = RBM(
        torch.log(mean / (1 - mean)).expand(replicas, n_v).clone(),
        torch.zeros(replicas, hidden, dtype=torch.float64),
        init_std * torch.randn(replicas, n_v, hidden, generator=gen, dtype=torch.float64),
    )
    velocity = rbm.scaled(0.0)
    samples = (torch.rand(replicas, chains, n_v, generator=gen) < 0.5).to(torch.float64)
    batch_size = min(batch_size, n_samples)
    n_batches = math.ceil(n_samples / batch_size)
    rates = learning_rates(learning_rate, schedule, epochs * n_batches)
    loglik = torch.empty(replicas, epochs + 1, dtype=torch.float64)
    loglik[:, 0] = log_likelihood(data, rbm)
    for epoch in range(1, epochs + 1):
        order = torch.rand(replicas, n_samples, generator=gen).argsort(dim=1)
        for i in range(n_batches):
            batch = data[order[:, i * batch_size : (i + 1) * batch_size]]  # (R, B, n_v)
            positive = data_statistics(batch, rbm)
            if method == "exact":
                negative = model_statistics(rbm)
            else:  # CD-k restarts from the batch, PCD-k continues its chains
                samples = gibbs_steps(batch if method == "cd" else samples, rbm, k, gen)
                negative = data_statistics(samples, rbm)
            gradient = positive + negative.scaled(-1.0)
            gradient = RBM(gradient.a, gradient.b, gradient.W - weight_decay * rbm.W)
            step = float(rates[(epoch - 1) * n_batches + i])
            velocity = velocity.scaled(momentum) + gradient.scaled(step)
            rbm = rbm + velocity
        loglik[:, epoch] = log_likelihood(data, rbm)
    flags = learning_flags(loglik.numpy(), n_v)
    negative_samples = (
        {}
        if method == "exact"
        else {
            "negative_samples": labelled(
                samples.to(torch.int8).numpy(),
                ("replica", "chain", "visible"),
                "visible states of the last negative phase (pcd: the persistent chains; "
                "cd: the last batch after k Gibbs steps)",
            )
        }
    )
    return xr.Dataset(
        {
            **negative_samples,
            "loglik": labelled(
                loglik.numpy(), ("replica", "epoch"), "exact mean log-likelihood per sample", "nat"
            ),
            "best_loglik": labelled(
                best_log_likelihood(data),
                (),
                "minus the entropy of the training sample, -H(data): the best training "
                "log-likelihood (for samples of a distribution: the memorisation bound)",
                "nat",
            ),
            "uniform_loglik": labelled(
                -n_v * math.log(2), (), "log-likelihood of the uniform model, -n_v ln 2", "nat"
            ),
            **{name: labelled(value, ("replica",), *FLAGS[name]) for name, value in flags.items()},
            "visible_bias": labelled(rbm.a.numpy(), ("replica", "visible"), "visible biases a"),
            "hidden_bias": labelled(rbm.b.numpy(), ("replica", "hidden"), "hidden biases b"),
            "weights": labelled(
                rbm.W.numpy(), ("replica", "visible", "hidden"), "weights W (visible, hidden)"
            ),
        },
        coords={
            "replica": ("replica", np.arange(replicas), {"long_name": "replica", "units": "1"}),
            "epoch": ("epoch", np.arange(epochs + 1), {"long_name": "epoch", "units": "1"}),
        },
        attrs={
            "method": method,
            "k": k,
            "n_visible": n_v,
            "n_hidden": hidden,
            "n_samples": n_samples,
            "n_distinct": int(torch.unique(data, dim=0).shape[0]),
            "learning_rate": learning_rate,
            "schedule": schedule,
            "momentum": momentum,
            "weight_decay": weight_decay,
            "chains": chains if method == "pcd" else 0,
            "flagged_replicas": int(flagged(flags).sum()),
        },
    )


ISING_REFERENCES = {
    "ising_loglik": "mean exact log-probability of the data under the Ising distribution",
    "ising_neg_entropy": "minus the entropy of the Ising distribution (exact, all 2^N states): "
    "the best expected log-likelihood on new samples",
}


SPEC_OVERRIDES = ("learning_rate", "weight_decay")  # a data set may set its own


def study(
    spec: dict, training: dict, method: str, seed: int, ising_ds: xr.Dataset | None = None
) -> xr.Dataset:
    """Train on the data set ``spec`` (see :func:`training_data`) with the ``training``
    hyperparameters (keys of :func:`train`; epochs and, if given, the SPEC_OVERRIDES from
    the spec) and attach the data set's reference log-likelihoods."""
    data, refs = training_data(spec, ising_ds)
    training = {**training, **{key: spec[key] for key in SPEC_OVERRIDES if key in spec}}
    ds = train(data, method, epochs=spec["epochs"], seed=seed, **training)
    for name, long_name in ISING_REFERENCES.items():
        if name in refs:
            ds[name] = labelled(refs.pop(name), (), long_name, "nat")
    ds.attrs.update({"data_kind": spec["kind"], **refs})
    return ds
