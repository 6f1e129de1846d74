"""Memory budgets: how many grid points, directions or samples a chunk may hold."""

from statmech_nn.nets import Network


def memory_per_point(model: Network, n_samples: int, itemsize: int) -> int:
    """Bytes one grid point needs in a chunk (activations, outputs, parameters), an estimate."""
    return itemsize * (n_samples * model.activations_per_sample + model.n_params)


def chunk_size(bytes_per_item: int, memory_budget_mb: float, total: int) -> int:
    """How many items fit into the memory budget (at least 1, at most ``total``)."""
    return int(max(1, min(total, memory_budget_mb * 2**20 // max(bytes_per_item, 1))))
