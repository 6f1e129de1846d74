"""The study's config checked before any job runs, without torch.

:func:`check` fills the schema's defaults (the only fallback: no other config file
is merged in), refuses non-finite numbers, validates against the JSON schema,
resolves the ``null`` defaults that follow other keys, checks the cross-references
between sections and the sizes and memory of every job (:mod:`statmech_nn.preflight`).
Every refusal is a :class:`ConfigError` of one line naming the key path, the bad
value and what is allowed, never the schema itself. :func:`canonical` puts a rule's params in a
form that does not depend on the order of keys in the config file.
"""

import copy
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from statmech_nn import preflight, runs
from statmech_nn.arch import Architecture, parse_architecture
from statmech_nn.errors import ConfigError, InputError

"""A study must fit a machine with this much memory (one job at a time)."""
MAX_DEPTH = 16
MAX_WIDTH = 4096
MAX_KERNEL = 15


def load_schema(path: str | Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def canonical(value: Any) -> Any:
    """``value`` with every mapping's keys sorted, recursively.

    Snakemake 9 compares a job's params with those recorded for its outputs by
    ``repr`` of each value (``Persistence._params``); a dict's repr follows its
    insertion order, so params built from a config section would change with the
    order of keys in the file. Sorted dicts (and lists for tuples) make it stable.
    """
    if isinstance(value, Mapping):
        return {str(k): canonical(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    return value


def check(config: dict, schema: dict) -> dict:
    """Validate ``config`` in place (defaults filled, ``null`` defaults resolved); return it."""
    _refuse_non_finite(config, ())
    error = best_match(_VALIDATOR(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(describe_error(error))
    _resolve_defaults(config)
    _check_architectures(config)
    _check_references(config)
    preflight.check_sizes(config)
    _check_paper(config)
    return config


# ---- schema validation with defaults and short messages


def _with_defaults(cls):
    """A validator class that fills each property's ``default`` (a copy) before checking it."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if isinstance(instance, dict):
            for name, sub in props.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, props, instance, schema)

    strict_integer = cls.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool)
    )
    return validators.extend(cls, {"properties": properties}, type_checker=strict_integer)


_VALIDATOR = _with_defaults(Draft202012Validator)


def key_path(parts: Iterator[Any] | tuple) -> str:
    """``('train', 'architectures', 0)`` -> ``train.architectures[0]``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def describe_error(error: ValidationError) -> str:
    """One line: the key path, the bad value and what the schema allows there."""
    path = list(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - allowed)
        where = key_path(path) if path else "the top level"
        return (
            f"config {key_path([*path, unknown[0]])}: unknown key "
            f"(allowed at {where}: {', '.join(sorted(allowed))})"
        )
    if error.validator == "required":
        return f"config {key_path(path)}: {error.message}"
    if error.validator in ("minProperties", "maxProperties"):
        word = "least" if error.validator == "minProperties" else "most"
        return (
            f"config {key_path(path)}: {_short(error.instance)} is not allowed "
            f"(allowed: at {word} {error.validator_value} entries)"
        )
    value = _short(error.instance)
    return f"config {key_path(path)}: {value} is not allowed (allowed: {allowed_by(error.schema)})"


def allowed_by(schema: Mapping) -> str:
    """What a (leaf) schema accepts, in words: types, choices, bounds, patterns, lengths."""
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return f"exactly {schema['const']!r}"
    words = []
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        words.append(" or ".join(_ARTICLES.get(t, t) for t in types))
    bounds = []
    for key, sign in (
        ("minimum", ">="),
        ("exclusiveMinimum", ">"),
        ("maximum", "<="),
        ("exclusiveMaximum", "<"),
    ):
        if key in schema:
            bounds.append(f"{sign} {schema[key]}")
    if bounds:
        words.append("finite, " + " and ".join(bounds))
    if "multipleOf" in schema:
        words.append(f"a multiple of {schema['multipleOf']}")
    if "pattern" in schema:
        words.append(f"matching {schema['pattern']}")
    if "const" in schema.get("not", {}):
        words.append(f"not {schema['not']['const']!r}")
    low, high = schema.get("minItems", 0), schema.get("maxItems")
    if high is None and low:
        words.append(f"at least {low} items")
    elif high is not None:
        words.append(f"exactly {low} items" if low == high else f"{low} to {high} items")
    if schema.get("uniqueItems"):
        words.append("no repeats")
    return ", ".join(words) or "see workflow/schemas/config.schema.yaml"


_ARTICLES = {"integer": "an integer", "array": "a list", "object": "a mapping", "null": "null"}
_ARTICLES |= {t: f"a {t}" for t in ("number", "string", "boolean")}


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _refuse_non_finite(value: Any, path: tuple) -> None:
    """NaN and ±inf pass every JSON-schema bound (comparisons with NaN are false): refuse them."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"config {key_path(path)}: {value} is not allowed (allowed: a finite number)"
        )
    if isinstance(value, Mapping):
        for k, v in value.items():
            _refuse_non_finite(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _refuse_non_finite(v, (*path, i))


# ---- defaults that follow other keys


def _resolve_defaults(config: dict) -> None:
    """``null`` means: every trained data set / architecture (main product and train.runs),
    every plane / line slice."""
    slices = config["slices"]
    if slices["datasets"] is None:
        slices["datasets"] = runs.trained_datasets(config)
    if slices["architectures"] is None:
        slices["architectures"] = runs.trained_architectures(config)
    if config["hessian"]["datasets"] is None:
        config["hessian"]["datasets"] = runs.trained_datasets(config)
    for key, n_axes in (("figure_planes", 2), ("figure_lines", 1)):
        if slices[key] is None:
            slices[key] = [
                name for name, d in slices["directions"].items() if len(d["axes"]) == n_axes
            ]


# ---- cross-references


def _refuse_undefined(names: list, key: str, defined: Mapping | list, defined_key: str) -> None:
    for i, name in enumerate(names):
        if name not in defined:
            raise ConfigError(
                f"config {key}[{i}]: {name!r} is not defined under {defined_key} "
                f"(defined: {', '.join(defined) or 'none'})"
            )


def _check_references(config: dict) -> None:
    train, slices, hessian = config["train"], config["slices"], config["hessian"]
    for key, block in runs.products(train):
        _refuse_undefined(block["datasets"], f"{key}.datasets", config["datasets"], "datasets")
    runs.check(config)
    _refuse_undefined(hessian["datasets"], "hessian.datasets", config["datasets"], "datasets")
    _refuse_untrained(hessian["datasets"], "hessian.datasets", runs.trained_datasets(config))
    _refuse_untrained(slices["datasets"], "slices.datasets", runs.trained_datasets(config))
    _refuse_untrained(
        slices["architectures"], "slices.architectures", runs.trained_architectures(config)
    )
    if not runs.select(config, slices["datasets"], slices["architectures"]):
        raise ConfigError(
            f"config slices: no trained pair has a data set in slices.datasets "
            f"({', '.join(slices['datasets'])}) and an architecture in slices.architectures "
            f"({', '.join(slices['architectures'])})"
        )
    _check_slice_directions(slices, train["replicas"])
    if train["replicas"] < 2:
        raise ConfigError(
            f"config train.replicas: {train['replicas']} is not allowed (allowed: >= 2; "
            "overlaps need pairs)"
        )
    for key, section in (("slices.replicas", slices), ("hessian.replicas", hessian)):
        asked = section["replicas"]
        if asked is not None and asked > train["replicas"]:
            raise ConfigError(
                f"config {key}: {asked} is more than the {train['replicas']} replicas "
                f"train.replicas trains (allowed: at most {train['replicas']})"
            )
    _check_boltzmann(config)


def _refuse_untrained(names: list, key: str, trained: list) -> None:
    for i, name in enumerate(names):
        if name not in trained:
            raise ConfigError(
                f"config {key}[{i}]: {name!r} is not trained by train.datasets x "
                f"train.architectures or train.runs (trained: {', '.join(trained) or 'none'})"
            )


def _check_slice_directions(slices: dict, train_replicas: int) -> None:
    directions = slices["directions"]
    for name, d in directions.items():
        key = f"slices.directions.{name}"
        if d["ranges"] == "auto":
            if len(d["axes"]) != 1 or d["axes"] == ["segment"]:
                raise ConfigError(
                    f"config {key}.ranges: 'auto' is not allowed with axes {d['axes']} "
                    "(allowed: a line with one axis other than segment)"
                )
        elif len(d["ranges"]) != len(d["axes"]):
            raise ConfigError(
                f"config {key}.ranges: {len(d['ranges'])} range(s) for {len(d['axes'])} axes "
                "(allowed: one [low, high] per entry of axes)"
            )
        for i, (low, high) in enumerate([] if d["ranges"] == "auto" else d["ranges"]):
            if not low < high:
                raise ConfigError(
                    f"config {key}.ranges[{i}]: {[low, high]} is not allowed (allowed: low < high)"
                )
        if "segment" in d["axes"] and d["axes"] != ["segment"]:
            raise ConfigError(
                f"config {key}.axes: {d['axes']} is not allowed (allowed: segment alone)"
            )
        if "segment" in d["axes"] and slices["replicas"] < 2:
            raise ConfigError(
                f"config slices.replicas: {slices['replicas']} is not allowed with the segment "
                f"slice {key} (allowed: >= 2)"
            )
    for key, n_axes, kind in (("figure_planes", 2, "plane"), ("figure_lines", 1, "line")):
        _refuse_undefined(slices[key], f"slices.{key}", directions, "slices.directions")
        for i, name in enumerate(slices[key]):
            if len(directions[name]["axes"]) != n_axes:
                raise ConfigError(
                    f"config slices.{key}[{i}]: {name!r} is not a {kind} slice: "
                    f"slices.directions.{name}.axes has {len(directions[name]['axes'])} "
                    f"(allowed: names with {n_axes} {'axes' if n_axes > 1 else 'axis'})"
                )
        if not slices[key]:
            raise ConfigError(
                f"config slices.{key}: no {kind} slice under slices.directions to draw "
                f"(allowed: at least one name with {n_axes} axes)"
            )


def _check_boltzmann(config: dict) -> None:
    boltzmann, ising = config["boltzmann"], config["ising"]
    _refuse_undefined(
        boltzmann["train_on"], "boltzmann.train_on", boltzmann["datasets"], "boltzmann.datasets"
    )
    for name in boltzmann["train_on"]:
        spec = boltzmann["datasets"][name]
        if spec["kind"] != "ising":
            continue
        if spec["temperature"] not in ising["temperatures"]:
            raise ConfigError(
                f"config boltzmann.datasets.{name}.temperature: {spec['temperature']} is not one "
                f"of ising.temperatures ({', '.join(map(str, ising['temperatures']))})"
            )
        if spec["samples"] > ising["keep_samples"]:
            raise ConfigError(
                f"config boltzmann.datasets.{name}.samples: {spec['samples']} is more than "
                f"ising.keep_samples ({ising['keep_samples']}) keeps"
            )


# ---- architectures


def _check_architectures(config: dict) -> None:
    for key, block in runs.products(config["train"]):
        for i, arch in enumerate(block["architectures"]):
            if arch in config["models"]:
                continue  # a researcher's network: its factory is checked by the training job
            _check_architecture(arch, f"{key}.architectures[{i}]", config["models"])
            if arch.startswith("cnn"):
                _check_images(config, block["datasets"], arch, f"{key}.architectures[{i}]")
    for name, spec in config["datasets"].items():
        if spec["kind"] == "teacher_student":
            _check_architecture(spec["teacher"], f"datasets.{name}.teacher")


def _check_architecture(arch: str, key: str, models: Mapping | None = None) -> None:
    try:
        a = parse_architecture(arch)
    except InputError:
        defined = ", ".join(models or {}) or "none"
        raise ConfigError(
            f"config {key}: {arch!r} is neither a built-in architecture string nor a name "
            f"under models (defined: {defined})"
        ) from None
    if isinstance(a, Architecture):
        depth, width, kernel = a.depth, a.width, 1
    else:
        depth, width, kernel = len(a.channels), max(a.channels), a.kernel
    if depth > MAX_DEPTH or width > MAX_WIDTH or kernel > MAX_KERNEL:
        raise ConfigError(
            f"config {key}: {arch!r} is not allowed (allowed: depth <= {MAX_DEPTH}, "
            f"width or channels <= {MAX_WIDTH}, kernel <= {MAX_KERNEL})"
        )


def _check_images(config: dict, datasets: list, arch: str, key: str) -> None:
    """A CNN trains on images: digits with ``images: true`` or a user's file (whose shape
    only its data job knows; a CNN job on flat inputs fails naming the data set)."""
    for name in datasets:
        spec = config["datasets"].get(name)
        if spec is None:
            continue  # refused by _check_references, naming the key
        if spec["kind"] in ("teacher_student", "function") or (
            spec["kind"] == "digits" and not spec.get("images")
        ):
            raise ConfigError(
                f"config {key}: the CNN {arch!r} needs images, but datasets.{name} serves flat "
                "features (set datasets.<name>.images: true for digits, or train the CNN in "
                "a train.runs block on image data)"
            )


# ---- the paper study (section paper)


def _check_paper(config: dict) -> None:
    """The saddle's counts and ranges; the function approximator's data set and planes."""
    saddle, fn = config["paper"]["saddle"], config["paper"]["function"]
    if saddle["n_negative"] > saddle["n_params"]:
        raise ConfigError(
            f"config paper.saddle.n_negative: {saddle['n_negative']} is more than n_params "
            f"({saddle['n_params']})"
        )
    for key in ("negative", "positive"):
        low, high = saddle[key]
        if low > high:
            raise ConfigError(f"config paper.saddle.{key}: [{low}, {high}] is not [low, high]")
    spec = config["datasets"].get(fn["dataset"])
    if spec is None:  # checked where the paper target asks for it (paper.smk)
        return
    if spec["kind"] != "function":
        raise ConfigError(
            f"config paper.function.dataset: datasets.{fn['dataset']} is of kind "
            f"{spec['kind']!r}, expected 'function'"
        )
    directions = config["slices"]["directions"]
    for i, name in enumerate(fn["planes"]):
        if name not in directions or len(directions[name]["axes"]) != 2:
            raise ConfigError(
                f"config paper.function.planes[{i}]: {name!r} is not a plane under "
                "slices.directions"
            )
