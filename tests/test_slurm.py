"""The study on a real SLURM cluster, and what the SLURM profile asks of it.

The cluster is a throwaway single node (tests/slurm/cluster.py): Debian's slurm-wlm and munge,
installed with apt-get when absent, run as root with every file in a temporary directory and
stopped by pid afterwards. Where it cannot start (not root, no apt-get, daemons not coming up)
the cluster test is skipped with the reason; the dry-run tests need no cluster.
"""

import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from slurm.cluster import Cluster, ClusterUnavailable, ensure_installed, raise_interrupt
from test_reliability import assert_same_data

from conftest import copy_workflow, snakemake

pytestmark = pytest.mark.slow
pytest.importorskip(
    "snakemake_executor_plugin_slurm",
    reason="needs snakemake-executor-plugin-slurm (pip install snakemake-executor-plugin-slurm)",
)

QUICK = ("--configfile", "config/quick.yaml")
SLURM = (
    "--executor",
    "slurm",
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--workflow-profile",
    "workflow/profiles/slurm",
)
# Rules that compute with torch and so take `gpu: 1` when the config says `device: cuda`.
GPU_RULES = {"train_replicas", "hessian", "slices_evaluate", "slices_curvature_stats"}
TARGET_RULES = {"all", "figures"}  # input-only rules: no job to submit
# A chain through every kind of remote job (data, training, Hessian, slices, curvature,
# overlaps, a simulation) and one local figure rule: the SLURM run makes these from
# nothing while the local quick study (shared with other tests) made them too. The whole
# quick study through the test cluster cost CI about 6 minutes for no more coverage.
SLURM_TARGETS = (
    "results/slices/digits/mlp-d2-w16-tanh/hessian.nc",
    "results/slices/digits/mlp-d2-w16-tanh/curvature.nc",
    "results/overlaps/teacher/perceptron.nc",
    "results/ising/L4.nc",
    "results/figures/training_curves.png",
)


def _runs_locally(rule: str) -> bool:
    """Input-only targets and the figure rules (``localrule: True``: seconds of plotting
    each, not worth a queue slot) run where snakemake runs, never through sbatch."""
    return rule in TARGET_RULES or rule.startswith("figure_")


@pytest.fixture
def slurm_cluster(tmp_path_factory):
    """A running single-node cluster; only the daemons started here are stopped, by pid."""
    try:
        ensure_installed()
    except ClusterUnavailable as err:
        pytest.skip(f"no SLURM test cluster: {err}")
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    previous = signal.signal(signal.SIGTERM, raise_interrupt)  # a killed pytest still cleans up
    try:
        try:
            cluster.start()
        except ClusterUnavailable as err:
            pytest.skip(f"no SLURM test cluster: {err}")
        yield cluster
    finally:
        cluster.stop()
        signal.signal(signal.SIGTERM, previous)


def _job_blocks(output: str) -> list[tuple[str, str]]:
    """(head, text) of every job snakemake printed; head is `rule NAME` or `localrule NAME`."""
    parts = re.split(r"^(localrule|rule) (\w+):$", output, flags=re.M)
    return [(parts[i] + " " + parts[i + 1], parts[i + 2]) for i in range(1, len(parts), 3)]


def _remote_rules(output: str) -> Counter:
    """Jobs per rule that a run sent to the executor (not the input-only targets)."""
    heads = [head.split() for head, _ in _job_blocks(output)]
    return Counter(rule for kind, rule in heads if kind == "rule" and not _runs_locally(rule))


def test_quick_study_jobs_on_slurm_equal_the_local_run(quick_run, slurm_cluster, tmp_path):
    repo = copy_workflow(tmp_path / "repo")
    env = {
        **slurm_cluster.env,
        # sbatch exports this environment to the jobs, which must run the same Python.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), slurm_cluster.env["PATH"]]),
    }
    # --retries 0: a failing job fails the test at once instead of after the profile's retries.
    cmd = [sys.executable, "-m", "snakemake", *SLURM_TARGETS, *SLURM, *QUICK, "--jobs", "4"]
    cmd += ["--retries", "0"]
    cmd += ["--latency-wait", "30", "--slurm-init-seconds-before-status-checks", "2"]
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        job_logs = [p.read_text() for p in (repo / ".snakemake/slurm_logs").rglob("*.log")]
        pytest.fail(f"{output}\n{slurm_cluster.logs()}\n" + "\n".join(job_logs[-3:]))

    # Every non-local job went through SLURM, once, and completed there.
    jobs = slurm_cluster.jobs()
    submitted = _remote_rules(output)
    assert submitted["train_replicas"] > 0 and submitted["data_make"] > 0, output
    ran = Counter(re.match(r"rule_(.+?)(_wildcards_.*)?$", j["comment"])[1] for j in jobs)
    assert ran == submitted, (ran, submitted)
    assert not any(_runs_locally(rule) for rule in ran), ran
    assert {j["state"] for j in jobs} == {"COMPLETED"}, jobs

    assert submitted["slices_curvature_stats"] == 1 and submitted["hessian"] == 1, submitted
    assert_same_data(quick_run, repo, subset=True)


class _Resources(dict):
    """A job's resources as the SLURM plugin reads them (``.get`` and attributes)."""

    __getattr__ = dict.__getitem__


def _value(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def _sbatch_calls(output: str, workdir: Path) -> dict[str, list[str]]:
    """The sbatch options the SLURM plugin would build for each remote job of a dry run."""
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command
    from snakemake_executor_plugin_slurm.utils import set_gres_string

    calls: dict[str, list[str]] = {}
    for head, text in _job_blocks(output):
        kind, rule = head.split()
        if kind == "localrule":
            continue
        resources = re.search(r"^\s*resources: (.*)$", text, flags=re.M)[1]
        threads = re.search(r"^\s*threads: (\d+)$", text, flags=re.M)
        job = SimpleNamespace(
            resources=_Resources(kv.split("=", 1) for kv in resources.split(", ")),
            threads=int(threads[1]) if threads else 1,
        )
        job.resources.update({k: _value(v) for k, v in job.resources.items()})
        params = {
            "run_uuid": "dry",
            "slurm_logfile": workdir / "slurm.log",
            "comment_str": f"rule_{rule}",
            "account": "",
            "partition": "",
            "workdir": workdir,
        }
        calls.setdefault(rule, []).append(get_submit_command(job, params) + set_gres_string(job))
    return calls


@pytest.mark.parametrize("device", ["cuda", "cpu", "auto"])
def test_slurm_profile_asks_for_gpus_only_when_the_config_says_cuda(workflow_copy, device):
    (workflow_copy / "device.yaml").write_text(f"device: {device}\n")
    proc = snakemake(workflow_copy, "-n", *SLURM, *QUICK, "device.yaml")
    calls = _sbatch_calls(proc.stdout + proc.stderr, workflow_copy)
    assert GPU_RULES <= set(calls), calls
    for rule, rule_calls in calls.items():
        wants_gpu = device == "cuda" and rule in GPU_RULES
        for call in rule_calls:
            assert ("--gpus=1" in call) == wants_gpu, (rule, call)
            assert "--gres" not in call and ("--gpus" in call) == wants_gpu, (rule, call)
