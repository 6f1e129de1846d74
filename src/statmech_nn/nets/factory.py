"""Networks by name: built-in families from their strings, a researcher's own from config.

A config's ``models:`` section maps a name to ``factory: "module:callable"`` and
``kwargs:``; the callable is ``(input_shape, n_outputs, **kwargs) -> nn.Module``.
Modules are imported from ``sys.path`` (PYTHONPATH) and from the ``models/``
folder of the workflow (the working directory of every job). The import path
is the config's only reference to code. Every way this can go wrong — a module
that does not import, a missing callable, a wrong signature, a factory that
raises or returns no module — is one :class:`InputError` line naming the key.
"""

import importlib
import inspect
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path

from torch import nn

from statmech_nn.arch import Architecture, ConvArchitecture, parse_architecture
from statmech_nn.errors import InputError
from statmech_nn.nets.base import Network
from statmech_nn.nets.cnn import conv_network
from statmech_nn.nets.mlp import MLP
from statmech_nn.nets.module import ModuleNetwork

MODELS_DIR = "models"  # a folder of the workflow searched for factory modules


def load_factory(key: str, spec: Mapping, search: tuple[Path, ...] = ()):
    """The callable ``spec["factory"]`` ("module:callable") names; ``key`` is its config path."""
    target = spec.get("factory")
    module_name, sep, attr = str(target).partition(":")
    if not (isinstance(target, str) and sep and module_name and attr):
        raise InputError(f"config {key}.factory: {target!r}, expected 'module:callable'")
    extra = [str(p) for p in (*search, Path.cwd() / MODELS_DIR) if Path(p).is_dir()]
    sys.path[:0] = [p for p in extra if p not in sys.path]
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # ImportError, or anything the module raises on import
        raise InputError(
            f"config {key}.factory: cannot import module {module_name!r} (searched PYTHONPATH "
            f"and the workflow's {MODELS_DIR}/ folder): {type(err).__name__}: {err}"
        ) from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise InputError(f"config {key}.factory: module {module_name!r} has no callable {attr!r}")
    return fn


def custom_network(
    name: str, spec: Mapping, input_shape: tuple[int, ...], n_outputs: int
) -> ModuleNetwork:
    """The network a ``models.<name>`` entry describes, for this data set's shapes."""
    key = f"models.{name}"
    fn = load_factory(key, spec)
    kwargs = dict(spec.get("kwargs") or {})
    try:
        inspect.signature(fn).bind(tuple(input_shape), n_outputs, **kwargs)
    except TypeError as err:
        raise InputError(
            f"config {key}.factory: {spec['factory']} does not take (input_shape, n_outputs, "
            f"**kwargs) with kwargs {sorted(kwargs)}: {err}"
        ) from None
    except ValueError:  # no signature to inspect (a builtin): let the call decide
        pass

    def build() -> nn.Module:
        try:
            module = fn(tuple(input_shape), n_outputs, **kwargs)
        except Exception as err:
            raise InputError(
                f"config {key}: factory {spec['factory']} raised {type(err).__name__}: {err}"
            ) from None
        if not isinstance(module, nn.Module):
            raise InputError(
                f"config {key}: factory {spec['factory']} returned {type(module).__name__}, "
                "expected a torch.nn.Module"
            )
        return module

    record = {"arch": name, "factory": spec["factory"], "kwargs": kwargs}
    return ModuleNetwork(name, build, input_shape, n_outputs, spec=record)


def build_network(
    arch: str,
    input_shape: tuple[int, ...] | int,
    n_outputs: int,
    models: Mapping | None = None,
) -> Network:
    """The network ``arch`` names: a ``models:`` entry, or a built-in family's string."""
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if models and arch in models:
        return custom_network(arch, models[arch], shape, n_outputs)
    parsed = parse_architecture(arch)
    if isinstance(parsed, ConvArchitecture):
        return conv_network(parsed, shape, n_outputs)
    assert isinstance(parsed, Architecture)
    return MLP(parsed, math.prod(shape), n_outputs)


def network_from_attrs(
    attrs: Mapping, input_shape: tuple[int, ...] | None = None, n_outputs: int | None = None
) -> Network:
    """The network a training file describes (attrs written by :meth:`Network.describe`).

    A researcher's network is rebuilt from the factory recorded in ``network_json``,
    so later stages need no config. Files of older versions carry ``in_dim`` only;
    ``input_shape`` and ``n_outputs`` (from the data set) serve where attrs have neither.
    """
    if "input_shape_json" in attrs:
        shape = tuple(json.loads(attrs["input_shape_json"]))
        n_out = int(attrs["n_outputs"])
    elif "in_dim" in attrs:
        shape, n_out = (int(attrs["in_dim"]),), int(attrs["out_dim"])
    elif input_shape is not None and n_outputs is not None:
        shape, n_out = tuple(input_shape), int(n_outputs)
    else:
        raise InputError(
            f"training file of {attrs.get('arch', '?')!r}: no input_shape_json/in_dim attribute "
            "(is it from the train stage?)"
        )
    record = json.loads(attrs.get("network_json", "{}"))
    models = {attrs["arch"]: record} if "factory" in record else None
    return build_network(attrs["arch"], shape, n_out, models)


def input_shape_of(data_attrs: Mapping, n_features: int) -> tuple[int, ...]:
    """The shape of one input sample of a data set (its ``input_shape_json`` attr, else flat)."""
    if "input_shape_json" in data_attrs:
        return tuple(json.loads(data_attrs["input_shape_json"]))
    return (n_features,)
