"""Architecture strings such as ``mlp-d2-w64-tanh`` and ``perceptron``, parsed without torch.

Kept apart from :mod:`statmech_nn.models` so that the Snakefile can constrain the
``arch`` wildcard with :data:`ARCH_REGEX` without importing torch (about 2 s for
every snakemake start, which a SLURM job pays once more for its job step).
"""

import re
from dataclasses import dataclass

from statmech_nn.errors import InputError

ACTIVATION_NAMES = ("gelu", "relu", "sigmoid", "tanh")
_ACT = "|".join(ACTIVATION_NAMES)
ARCH_REGEX = rf"perceptron|mlp-d[1-9][0-9]*-w[1-9][0-9]*(-({_ACT}))?"
_ARCH = re.compile(
    rf"^(?:perceptron|mlp-d(?P<depth>[1-9]\d*)-w(?P<width>[1-9]\d*)(?:-(?P<act>{_ACT}))?)$"
)


@dataclass(frozen=True)
class Architecture:
    """A parsed architecture string: ``depth`` hidden layers of ``width`` units."""

    name: str
    depth: int
    width: int
    activation: str
    bias: bool


def parse_architecture(name: str) -> Architecture:
    """Parse ``"perceptron"`` or ``"mlp-d{depth}-w{width}[-{activation}]"``."""
    match = _ARCH.match(name)
    if match is None:
        raise InputError(
            f"architecture {name!r}: expected 'perceptron' or 'mlp-d<depth>-w<width>[-<act>]' "
            f"with depth, width >= 1 and act in {list(ACTIVATION_NAMES)}"
        )
    if name == "perceptron":
        return Architecture(name, depth=0, width=0, activation="identity", bias=False)
    return Architecture(
        name,
        depth=int(match["depth"]),
        width=int(match["width"]),
        activation=match["act"] or "tanh",
        bias=True,
    )
