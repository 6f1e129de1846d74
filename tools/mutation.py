"""Mutation testing of the science modules with mutmut 3 (issue 19); see docs/mutation.md.

    python tools/mutation.py                      # every science module, every mutant
    python tools/mutation.py theory overlap       # some modules, their unit tests only
    python tools/mutation.py --sample 300 --seed 0   # a seeded random sample of mutants
    python tools/mutation.py --sample 320 --seed 0 --budget 50 --workdir W
    python tools/mutation.py --recheck --workdir W   # its survivors against today's tests

mutmut is configured in pyproject.toml ([tool.mutmut]: the modules to mutate and the
unit tests that judge them). This runs it in a copy of the work tree (git's tracked and
untracked, not ignored, files), so the tree itself is never touched, with the copy's
[tool.mutmut] narrowed to the chosen modules and their test files. It prints the score
(killed + timeout over all mutants checked) and every surviving mutant with its diff,
and writes the same report to ``<copy>/mutation-report.md``.
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "src/statmech_nn"
# module -> the unit-test files that judge it (test_<module>.py unless listed)
EXTRA_TESTS = {
    "theory": ["tests/test_theory_hopfield.py"],
    "overlap": ["tests/test_properties.py", "tests/test_buffers.py"],
    # weight matching moved out of overlap.py; its tests stayed with the overlap stage's
    "alignment": [
        "tests/test_overlap.py",
        "tests/test_mutants_overlap.py",
        "tests/test_properties.py",
    ],
    # tests named after what they check rather than the module they judge
    "landscape": [
        "tests/test_landscape_study.py",
        "tests/test_synthetic.py",
        "tests/test_chunks.py",
        "tests/test_buffers.py",
        "tests/test_polish.py",
        "tests/test_slice_ranges.py",
    ],
    "hessian": ["tests/test_synthetic.py", "tests/test_chunks.py", "tests/test_buffers.py"],
    "train": ["tests/test_polish.py", "tests/test_buffers.py", "tests/test_regression.py"],
    "data": ["tests/test_regression.py"],
}


def _mutated(path: str, modules: list[str]) -> bool:
    """Whether ``src/statmech_nn/...`` file ``path`` is (in) one of the mutated ``modules``."""
    parts = Path(path).relative_to(PACKAGE).parts
    return (parts[0] if len(parts) > 1 else Path(parts[0]).stem) in modules


def configured_modules() -> list[str]:
    """The science modules pyproject.toml's [tool.mutmut] only_mutate lists."""
    text = (ROOT / "pyproject.toml").read_text()
    section = text[text.index("[tool.mutmut]") :]
    block = re.search(r"only_mutate = \[(.*?)\]", section, re.S).group(1)
    # a module file (src/statmech_nn/theory.py) or a package (src/statmech_nn/hessian/*.py)
    return [
        Path(p).parent.name if "*" in p else Path(p).stem for p in re.findall(r'"([^"]+)"', block)
    ]


def tests_for(module: str) -> list[str]:
    """tests/test_<module>.py where it exists, the tests written for its mutants
    (test_mutants_<module>*.py) and any listed in EXTRA_TESTS. A package (hessian/,
    ising/, ...) is one module: its tests are named after the package, not its files."""
    own = [f"tests/test_{module}.py"] if (ROOT / f"tests/test_{module}.py").is_file() else []
    written = sorted(
        p.relative_to(ROOT).as_posix() for p in ROOT.glob(f"tests/test_mutants_{module}*.py")
    )
    return list(dict.fromkeys([*own, *written, *EXTRA_TESTS.get(module, [])]))


def copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (dest / src.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / src.relative_to(ROOT))


def narrow_config(pyproject: Path, modules: list[str]) -> None:
    """Rewrite the copy's [tool.mutmut] lists for the chosen modules."""

    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(f'"{i}"' for i in items) + "]"

    text = pyproject.read_text()
    head, section = text.split("[tool.mutmut]", 1)
    targets = [
        f"{PACKAGE}/{m}/*.py" if (ROOT / PACKAGE / m).is_dir() else f"{PACKAGE}/{m}.py"
        for m in modules
    ]
    tests = list(dict.fromkeys(t for m in modules for t in tests_for(m)))  # once each
    for key, values in (("only_mutate", targets), ("pytest_add_cli_args_test_selection", tests)):
        pattern = rf"{key} = \[.*?\]"
        section = re.sub(pattern, f"{key} = {toml_list(values)}", section, count=1, flags=re.S)
    pyproject.write_text(head + "[tool.mutmut]" + section)


def mutmut(
    workdir: Path, *args: str, capture: bool = False, check: bool = True, timeout=None
) -> str:
    """``python -m mutmut ARGS`` in ``workdir`` on one BLAS thread; past ``timeout`` seconds
    its whole process group (the forked workers too) is killed and TimeoutExpired raised."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    pipe = subprocess.PIPE if capture else None
    with subprocess.Popen(
        [sys.executable, "-m", "mutmut", *args],
        cwd=workdir, env=env, text=True, stdout=pipe, stderr=pipe, start_new_session=True,
    ) as proc:  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
    if check and proc.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed ({proc.returncode})")
    return out if capture else ""


def statuses(workdir: Path) -> dict[str, str]:
    out = mutmut(workdir, "results", "--all", "true", capture=True)
    pairs = (line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line)
    return {name: status for name, status in pairs}


# One process for all diffs: `mutmut show` costs a second or two each (its start-up).
DIFFS = """
import json, sys
from mutmut.__main__ import find_mutant, get_diff_for_mutant
names = json.load(sys.stdin)
print(json.dumps({n: get_diff_for_mutant(n, path=find_mutant(n).path) for n in names}))
"""


def survivor_diffs(workdir: Path, names: list[str]) -> dict[str, str]:
    """Each mutant's diff, from mutmut's own diff function in one process (``mutmut show``
    per mutant where that internal function is not importable)."""
    proc = subprocess.run(
        [sys.executable, "-c", DIFFS], cwd=workdir, input=json.dumps(names),
        text=True, capture_output=True,
    )  # fmt: skip
    if proc.returncode == 0:
        return json.loads(proc.stdout)
    return {n: mutmut(workdir, "show", n, capture=True) for n in names}


# mutmut's words when the unmutated tests cannot run: every mutant would count as not killed
SETUP_FAILURES = ("failed to collect stats", "Failed to run clean test", "Failed to collect")


def refuse_broken_setup(output: str) -> None:
    if failure := next((f for f in SETUP_FAILURES if f in output), None):
        tail = "\n".join(output.splitlines()[-25:])
        raise SystemExit(f"mutmut: {failure} (the unmutated tests fail here):\n{tail}")


def run_in_chunks(workdir: Path, run: list[str], names: list[str], chunk: int, budget_s: float):
    """``mutmut run`` on ``names`` (in this order) in chunks, the first of 10 to time a
    mutant, starting no chunk after ``budget_s`` seconds and killing one that runs past
    it: the names not checked."""
    start, i = time.monotonic(), 0
    while i < len(names):
        left = budget_s - (time.monotonic() - start)
        if left <= 0:
            break
        part = names[i : i + (10 if i == 0 else chunk)]
        try:
            refuse_broken_setup(
                mutmut(workdir, *run, *part, capture=True, check=False, timeout=left)
            )
        except subprocess.TimeoutExpired:
            break
        i += len(part)
        spent = time.monotonic() - start
        print(f"{i}/{len(names)} mutants, {spent:.0f} s ({spent / i:.1f} s each)", flush=True)
    return names[i:]


def file_hashes(under: str) -> dict[str, str]:
    """sha256 of every tracked or untracked (not ignored) file under ``under``."""
    names = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", under],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return {n: hashlib.sha256((ROOT / n).read_bytes()).hexdigest() for n in names}


def changed_files(before: dict[str, str], under: str) -> set[str]:
    """Files under ``under`` new or different since the hashes ``before``."""
    return {n for n, h in file_hashes(under).items() if before.get(n) != h}


def recheck(
    workdir: Path, names: list[str], new_tests: set[str], jobs: int, timeout_s: float
) -> dict[str, str]:
    """Rerun not-killed mutants of an earlier run against the test files of their module
    added or changed since (``new_tests``; the others already passed), without a new mutmut
    run (which would redo the test map and every mutant). Each mutant is switched on
    through mutmut's own trampoline (MUTANT_UNDER_TEST) in ``<workdir>/mutants``, one
    pytest per mutant, stopping at the first failure: ``killed`` when a test fails or
    errors, ``timeout`` past ``timeout_s``, ``survived`` when all pass or no test file of
    its module changed. Each module's unmutated new tests must pass first.
    """
    shutil.copytree(ROOT / "tests", workdir / "mutants" / "tests", dirs_exist_ok=True)
    text = (workdir / "pyproject.toml").read_text()
    extra = re.search(r"^pytest_add_cli_args = \[(.*?)\]", text, re.M | re.S).group(1)
    pytest = [sys.executable, "-m", "pytest", "-x", "-q", *re.findall(r'"([^"]*)"', extra)]
    env = os.environ | {
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONPATH": str(workdir / "mutants" / "src"),
    }

    def module(name: str) -> str:
        return name.split(".")[1]  # statmech_nn.hessian.study.x_f__mutmut_3 -> hessian

    def files(module_name: str) -> list[str]:
        return [f for f in tests_for(module_name) if f in new_tests]

    def run(mutant: str, module_name: str) -> str:
        if not files(module_name):
            return "survived"
        try:
            proc = subprocess.run(
                [*pytest, *files(module_name)], cwd=workdir / "mutants",
                env=env | {"MUTANT_UNDER_TEST": mutant}, capture_output=True, timeout=timeout_s,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return "timeout"
        return {0: "survived", 5: "no tests"}.get(proc.returncode, "killed")

    with ThreadPoolExecutor(jobs) as pool:
        modules = sorted({module(n) for n in names})
        clean = dict(zip(modules, pool.map(lambda m: run("", m), modules), strict=True))
        if broken := [m for m, s in clean.items() if s != "survived"]:
            raise SystemExit(f"unmutated tests fail for {', '.join(broken)}: recheck refused")
        return dict(zip(names, pool.map(lambda n: run(n, module(n)), names), strict=True))


def main() -> None:
    known = configured_modules()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", metavar="MODULE", help=f"default: all of {', '.join(known)}"
    )
    parser.add_argument("--sample", type=int, help="check a random sample of this many mutants")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="parallel mutants")
    parser.add_argument("--chunk", type=int, default=100, help="mutants per mutmut call (sample)")
    parser.add_argument(
        "--budget", type=float, default=float("inf"), help="minutes after which no chunk starts"
    )
    parser.add_argument("--workdir", type=Path, help="where to copy the tree (default: a temp dir)")
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="rerun the not-killed mutants of the sample in --workdir against today's tests",
    )
    args = parser.parse_args()
    modules = args.modules or known
    if args.recheck and not (args.workdir and (args.workdir / "mutation-sample.json").exists()):
        parser.error("--recheck needs the --workdir of an earlier --sample run")
    if unknown := sorted(set(modules) - set(known)):
        parser.error(f"not a configured science module: {', '.join(unknown)}")

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="statmech-mutation-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.recheck:  # what changed since the sample run
        stored = json.loads((workdir / "mutation-sample.json").read_text())
        # mutants run in the copy of src/ made at the run; a change to a mutated module
        # would make the recheck judge code that is no longer the tree's (other modules,
        # plots say, the judging tests do not reach through the copy)
        if moved := {f for f in changed_files(stored["src"], "src") if _mutated(f, known)}:
            parser.error(f"a mutated module changed since the run ({', '.join(sorted(moved))})")
        new_tests = changed_files(stored["tests"], "tests")
    copy_tree(workdir)
    narrow_config(workdir / "pyproject.toml", modules)
    print(f"mutating {', '.join(modules)} in {workdir}", flush=True)

    run = ["run", "--max-children", str(args.jobs)]
    sample_file = workdir / "mutation-sample.json"
    chosen, rechecked = None, {}
    if args.recheck:
        chosen, found = json.loads(sample_file.read_text())["mutants"], statuses(workdir)
        recheck_file = workdir / "mutation-recheck.json"
        earlier = json.loads(recheck_file.read_text()) if recheck_file.exists() else {}
        found |= {n: s for n, s in earlier.items() if s in ("killed", "timeout")}
        todo = [n for n in chosen if found.get(n) not in ("killed", "timeout", "not checked")]
        print(f"recheck: {len(todo)} not killed in the sample of {len(chosen)}", flush=True)
        rechecked = earlier | recheck(workdir, todo, new_tests, args.jobs, timeout_s=600)
        recheck_file.write_text(json.dumps(rechecked, indent=1))
    elif args.sample is not None:
        # generate every mutant and the test map, then stop: mutmut exits non-zero when no
        # mutant matches the filter, after mapping; then draw the sample
        out = mutmut(workdir, *run, "statmech_nn.no_such_module.*", capture=True, check=False)
        refuse_broken_setup(out)
        names = sorted(statuses(workdir))
        if not names:
            raise SystemExit("mutmut generated no mutants")
        # in random order, so that a run stopped by --budget has checked a random subsample
        chosen = random.Random(args.seed).sample(names, min(args.sample, len(names)))
        sample = {"seed": args.seed, "of": len(names), "mutants": chosen}
        # the tree the sample is judged on: --recheck reruns survivors on tests changed since
        sample |= {"src": file_hashes("src"), "tests": file_hashes("tests")}
        sample_file.write_text(json.dumps(sample))
        print(f"sample: {len(chosen)} of {len(names)} mutants (seed {args.seed})", flush=True)
        left = run_in_chunks(workdir, run, chosen, args.chunk, 60 * args.budget)
        if left:
            print(f"budget spent: {len(left)} mutants not checked", flush=True)
    else:
        mutmut(workdir, *run)

    found = statuses(workdir)
    if chosen is not None:
        found = {n: rechecked.get(n, found.get(n, "not checked")) for n in chosen}
    checked = {n: s for n, s in found.items() if s != "not checked"}
    killed = sum(s in ("killed", "timeout") for s in checked.values())
    survivors = sorted(n for n, s in checked.items() if s not in ("killed", "timeout"))
    score = 100 * killed / max(len(checked), 1)
    if chosen is not None:
        stored = json.loads(sample_file.read_text())
        scope = f"{len(checked)} checked of a sample of {len(chosen)} (seed {stored['seed']}) "
        scope += f"of {stored['of']} mutants"
        if rechecked:
            again = sum(s in ("killed", "timeout") for s in rechecked.values())
            scope += f"; {again} of {len(rechecked)} survivors killed on recheck"
    else:
        scope = f"{len(checked)} mutants"
    lines = [
        f"# Mutation score: {score:.1f} % ({killed} killed of {scope}; {', '.join(modules)})",
        "",
        "Not killed (status, then diff):",
    ]
    diffs = survivor_diffs(workdir, survivors)
    for name in survivors:
        changed = [
            ln for ln in diffs[name].splitlines() if ln[:1] in "-+" and ln[:3] not in ("---", "+++")
        ]
        lines += ["", f"- {name}: {checked[name]}", *(f"      {ln}" for ln in changed)]
    report = "\n".join(lines) + "\n"
    (workdir / "mutation-report.md").write_text(report)
    print(report)
    print(json.dumps({"score": round(score, 1), "killed": killed, "checked": len(checked)}))


if __name__ == "__main__":
    main()
