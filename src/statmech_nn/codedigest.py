"""A short hash of the library code a rule's script runs, for Snakemake's params.

Snakemake reruns a job when its script changes (rerun trigger ``code``) but not
when a module of this package that the script imports changes. A rule that
carries :func:`code_digest` of its script as a param is rerun by the ``params``
trigger instead. The digest covers every ``statmech_nn`` module the script
imports, transitively: ``import`` and ``from ... import`` statements anywhere in
a file (imports inside functions too), relative imports resolved, and the
``__init__`` of every package on the way, since importing a module runs them.
Each module enters by its syntax tree without docstrings, so comments,
formatting and documentation do not rerun a study; any change to code does.
"""

import ast
import functools
import hashlib
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path

import statmech_nn

PACKAGE = "statmech_nn"
DIGEST_CHARS = 12


def code_digest(
    script: str | Path,
    package_dir: str | Path | None = None,
    only: Mapping[str, Collection[str]] | None = None,
) -> str:
    """Hex digest (12 characters) of the ``statmech_nn`` modules ``script`` imports.

    ``package_dir``: the package's folder (default: the one imported here, which
    the workflow puts first on its jobs' path). ``only``: packages a script uses
    for some of their names only (``{"statmech_nn.plots": ["training_curves"]}``
    for a script that draws one figure), whose ``__init__`` imports are followed
    only where they bind those names. Each file is parsed once per content.
    """
    folder = Path(package_dir or statmech_nn.__path__[0]).resolve()
    codes = _closure(Path(script), folder, only or {})
    h = hashlib.sha256()
    for path in sorted(codes):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + codes[path] + b"\0")
    return h.hexdigest()[:DIGEST_CHARS]


def imported_files(
    script: Path, folder: Path, only: Mapping[str, Collection[str]] | None = None
) -> set[Path]:
    """Files of the package under ``folder`` that importing ``script``'s imports runs."""
    return set(_closure(script, folder, only or {}))


def _closure(script: Path, folder: Path, only: Mapping[str, Collection[str]]) -> dict[Path, bytes]:
    """{file: its code} of every file of the package that ``script``'s imports run."""
    codes: dict[Path, bytes] = {}
    todo = [(script, _parsed(script)[0], "")]  # (file, its imports, its relative imports' base)
    while todo:
        path, imports, package = todo.pop()
        restrict = only.get(package) if path.name == "__init__.py" else None
        for module in _imports(imports, package, restrict):
            for file in _files_of(module, folder):
                if file not in codes:
                    file_imports, codes[file] = _parsed(file)
                    todo.append((file, file_imports, _package_of(file, folder)))
    return codes


def _imports(
    imports: Iterable[ast.Import | ast.ImportFrom], package: str, names: Collection[str] | None
) -> Iterator[str]:
    """Dotted names the statements ``imports`` of a file in ``package`` import (modules, or
    attributes of one). ``names``: follow ``from ... import`` only where it binds one."""
    for node in imports:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            continue
        aliases = [a for a in node.names if names is None or (a.asname or a.name) in names]
        base = _absolute(node.module, node.level, package)
        if base is None or not aliases:
            continue
        yield base
        yield from (f"{base}.{a.name}" for a in aliases if a.name != "*")


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The absolute dotted name of ``from <level dots><module> import``, or None if outside."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts) or not parts:
        return None
    parts = parts[: len(parts) - (level - 1)]
    return ".".join(parts + ([module] if module else []))


@functools.cache
def _files_of(module: str, folder: Path) -> tuple[Path, ...]:
    """The files importing ``module`` runs: each package ``__init__`` on its path and the
    module itself; nothing for names outside the package or attributes that are no module."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return []
    files = []
    here = folder.parent
    for depth, part in enumerate(parts):
        here = here / part
        if (here / "__init__.py").is_file():
            files.append(here / "__init__.py")
        elif depth == len(parts) - 1 and here.with_suffix(".py").is_file():
            files.append(here.with_suffix(".py"))
        else:
            break
    return tuple(files)


def _package_of(file: Path, folder: Path) -> str:
    """The dotted package a file's relative imports start from."""
    return ".".join(file.relative_to(folder.parent).parts[:-1])


def _parsed(path: Path) -> tuple[tuple[ast.Import | ast.ImportFrom, ...], bytes]:
    """The import statements of a file and its code without docstrings, cached by content."""
    return _parse(path.read_bytes())


@functools.cache
def _parse(source: bytes) -> tuple[tuple[ast.Import | ast.ImportFrom, ...], bytes]:
    tree = ast.parse(source)
    imports = []
    for node in _statements(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            _drop_docstring(node)
    _drop_docstring(tree)
    return tuple(imports), ast.dump(tree).encode()


def _statements(node: ast.AST) -> Iterator[ast.stmt]:
    """Every statement under ``node`` (imports and definitions are statements; expressions,
    the bulk of a tree, are not visited)."""
    for field in ("body", "orelse", "finalbody", "handlers", "cases"):
        for child in getattr(node, field, None) or ():
            if isinstance(child, ast.stmt):
                yield child
            yield from _statements(child)


def _drop_docstring(
    node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef,
) -> None:
    """Remove the docstring of a module, class or function (documentation, not code)."""
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        if isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
