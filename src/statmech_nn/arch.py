"""Architecture strings such as ``mlp-d2-w64-tanh``, ``cnn-c16-c32-k3`` and ``perceptron``,
parsed without torch.

Kept apart from :mod:`statmech_nn.nets` so that the Snakefile can constrain the
``arch`` wildcard with :func:`arch_regex` without importing torch (about 2 s for
every snakemake start, which a SLURM job pays once more for its job step).

- ``perceptron``: one linear map without bias;
- ``mlp-d<depth>-w<width>[-<act>]``: ``depth`` hidden layers of ``width`` units;
- ``cnn-c<c1>-c<c2>...-k<kernel>[-pool][-<act>][-bn]``: convolutions (stride 1,
  "same" padding) with c1, c2, ... output channels, optional BatchNorm after each,
  with ``-pool`` a 2×2 average pooling (stride 2) after every convolution but the
  last, global average pooling and a linear head; inputs are images (channels, h, w).

The activation defaults to tanh, whose Hessian is smooth. A name defined in the
config's ``models:`` section (a researcher's own network) is any other word.
"""

import re
from dataclasses import dataclass

from statmech_nn.errors import InputError

ACTIVATION_NAMES = ("gelu", "relu", "sigmoid", "tanh")
_ACT = "|".join(ACTIVATION_NAMES)
_MLP = rf"mlp-d[1-9][0-9]*-w[1-9][0-9]*(-({_ACT}))?"
_CNN = rf"cnn(-c[1-9][0-9]*)+-k[1-9][0-9]*(-pool)?(-({_ACT}))?(-bn)?"
ARCH_REGEX = rf"perceptron|{_MLP}|{_CNN}"
CUSTOM_NAME = r"[A-Za-z][A-Za-z0-9_]*"  # a `models:` key: a word, no '-' (never a built-in)
# the config schema's pattern of an architecture string (perceptron is a word); the schema is
# YAML and repeats it literally, tests/test_config.py checks that it does
SCHEMA_PATTERN = rf"^({_MLP}|{_CNN}|{CUSTOM_NAME})$"
_ARCH = re.compile(
    rf"^(?:perceptron|mlp-d(?P<depth>[1-9]\d*)-w(?P<width>[1-9]\d*)(?:-(?P<act>{_ACT}))?)$"
)
_CNN_ARCH = re.compile(
    rf"^cnn(?P<channels>(?:-c[1-9]\d*)+)-k(?P<kernel>[1-9]\d*)(?P<pool>-pool)?"
    rf"(?:-(?P<act>{_ACT}))?(?P<bn>-bn)?$"
)


def arch_regex(custom: list[str] | tuple[str, ...] = ()) -> str:
    """The ``arch`` wildcard's regex: every built-in family and the given custom names."""
    return "|".join([ARCH_REGEX, *(re.escape(name) for name in custom)])


@dataclass(frozen=True)
class Architecture:
    """A parsed MLP string: ``depth`` hidden layers of ``width`` units."""

    name: str
    depth: int
    width: int
    activation: str
    bias: bool


@dataclass(frozen=True)
class ConvArchitecture:
    """A parsed CNN string: output channels per convolution, kernel size, activation, BN,
    and whether 2×2 average pooling follows every convolution but the last."""

    name: str
    channels: tuple[int, ...]
    kernel: int
    activation: str
    batch_norm: bool
    pool: bool = False


def parse_architecture(name: str) -> Architecture | ConvArchitecture:
    """Parse ``"perceptron"``, ``"mlp-d{depth}-w{width}[-{act}]"`` or a CNN string."""
    if name.startswith("cnn"):
        conv = _CNN_ARCH.match(name)
        if conv is not None:
            return ConvArchitecture(
                name,
                channels=tuple(int(c) for c in conv["channels"].split("-c")[1:]),
                kernel=int(conv["kernel"]),
                activation=conv["act"] or "tanh",
                batch_norm=bool(conv["bn"]),
                pool=bool(conv["pool"]),
            )
    match = _ARCH.match(name)
    if match is None:
        raise InputError(
            f"architecture {name!r}: expected 'perceptron' or 'mlp-d<depth>-w<width>[-<act>]' "
            f"with depth, width >= 1, or 'cnn-c<channels>[-c<channels>...]-k<kernel>[-pool]"
            f"[-<act>][-bn]', act in {list(ACTIVATION_NAMES)}, or a name under the config's models:"
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
