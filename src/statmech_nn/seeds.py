"""Stable seeds derived from (config seed, rule, wildcards, ...).

Python's ``hash()`` is salted per process, so it is never used: a seed is the
first 8 bytes of the SHA-256 of the parts, which does not depend on job order,
``--cores`` or the interpreter.
"""

import hashlib
import json
from collections.abc import Mapping


def derive_seed(*parts: object) -> int:
    """A 63-bit seed determined only by ``parts`` (ints, strings, mappings).

    Example:
        >>> derive_seed(0, "train", {"arch": "perceptron"}) == derive_seed(
        ...     0, "train", {"arch": "perceptron"})
        True
    """
    text = json.dumps([_canonical(p) for p in parts], sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def _canonical(part: object) -> object:
    if isinstance(part, Mapping):
        return {str(k): _canonical(v) for k, v in sorted(part.items(), key=lambda kv: str(kv[0]))}
    return part
