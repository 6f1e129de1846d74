"""A throwaway single-node SLURM cluster for tests (Debian's slurm-wlm and munge, run as root).

Everything it writes lives under one directory: slurm.conf, the munge key and socket, the
controller's state, the node's spool and the logs. Clients find it through the SLURM_CONF
environment variable (``Cluster.env``), so nothing under /etc is read or written, and a
munged or slurmctld the system may already run is left alone. ``stop`` ends only the
processes ``start`` launched, by pid.

One twist: inside a job, snakemake's slurm-jobstep plugin runs the rule with a nested
``srun`` after dropping every SLURM_* variable, SLURM_CONF included (a real cluster keeps its
config at /etc/slurm/slurm.conf). So ``Cluster.env`` puts first on PATH an ``srun`` wrapper
that restores SLURM_CONF; sbatch exports PATH to the jobs.

By hand (as root):  python tests/slurm/cluster.py DIR   # starts, waits for an idle node,
prints the SLURM_CONF to export and stops on Ctrl-C.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PACKAGES = ("slurm-wlm", "munge")
COMMANDS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be set up here; the message says why (a test skips with it)."""


def ensure_installed(timeout: float = 900) -> None:
    """Install slurm-wlm and munge with apt-get when any of their commands is missing."""
    if all(shutil.which(cmd) for cmd in COMMANDS):
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable("SLURM is not installed and installing it needs root")
    if not shutil.which("apt-get"):
        raise ClusterUnavailable("SLURM is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *PACKAGES]):
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ClusterUnavailable(f"{' '.join(cmd)} took over {timeout:.0f} s") from None
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise ClusterUnavailable(f"{' '.join(cmd)} failed: {' / '.join(tail)}")
    missing = [cmd for cmd in COMMANDS if not shutil.which(cmd)]
    if missing:
        raise ClusterUnavailable(f"apt-get installed {PACKAGES} but {missing} are not on PATH")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_line(hostname: str) -> str:
    """This machine as a slurm.conf NodeName line: slurmd's own view of CPUs and memory."""
    try:
        out = subprocess.run(
            ["slurmd", "-C"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
    except (subprocess.SubprocessError, OSError) as err:
        raise ClusterUnavailable(f"slurmd -C could not describe this node: {err}") from None
    fields = [f for f in out.splitlines()[0].split() if not f.startswith("NodeName=")]
    return f"NodeName={hostname} NodeAddr=127.0.0.1 {' '.join(fields)} State=UNKNOWN"


class Cluster:
    """slurmctld, one slurmd and a private munged, all configured under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hostname = socket.gethostname().split(".")[0]
        self.conf = self.root / "slurm.conf"
        self.munge_socket = self.root / "munge" / "munge.socket.2"
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment in which SLURM's client commands talk to this cluster."""
        path = os.pathsep.join([str(self.root / "bin"), os.environ["PATH"]])
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def write_config(self) -> None:
        r = self.root
        for sub in ("munge", "state", "spool", "log", "bin"):
            (r / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        srun = r / "bin" / "srun"
        conf, real_srun = shlex.quote(str(self.conf)), shlex.quote(shutil.which("srun"))
        srun.write_text(
            "#!/bin/sh\n# srun for this cluster's config, also where SLURM_CONF was dropped\n"
            f'SLURM_CONF={conf} exec {real_srun} "$@"\n'
        )
        srun.chmod(0o700)
        key = r / "munge" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        self.conf.write_text(
            f"""\
# single-node test cluster written by tests/slurm/cluster.py
ClusterName=statmechnn
SlurmctldHost={self.hostname}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={self.munge_socket}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
ReturnToService=2
MailProg=/bin/true
StateSaveLocation={r / "state"}
SlurmdSpoolDir={r / "spool"}
SlurmctldPidFile={r / "slurmctld.pid"}
SlurmdPidFile={r / "slurmd.pid"}
SlurmctldLogFile={r / "log" / "slurmctld.log"}
SlurmdLogFile={r / "log" / "slurmd.log"}
{node_line(self.hostname)}
PartitionName=main Nodes={self.hostname} Default=YES MaxTime=INFINITE State=UP
"""
        )

    def _spawn(self, name: str, cmd: list[str]) -> None:
        out = open(self.root / "log" / f"{name}.out", "w")  # the child keeps its own copy
        self.procs[name] = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
        )
        out.close()

    def start(self, timeout: float = 90) -> None:
        """Start munged, slurmctld and slurmd, then wait until the node is idle."""
        if os.geteuid() != 0:
            raise ClusterUnavailable("starting slurmctld and slurmd as in CI needs root")
        self.write_config()
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",  # the socket's directory is private (0700), which munged warns about
                f"--key-file={m / 'munge.key'}",
                f"--socket={self.munge_socket}",
                f"--pid-file={m / 'munged.pid'}",
                f"--seed-file={m / 'munged.seed'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
            ],
        )
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged to open its socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-N", self.hostname, "-f", str(self.conf)])
        self._wait(lambda: self.node_state() == "idle", timeout, "the node to be idle")

    def node_state(self) -> str:
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-n", self.hostname, "-o", "%T"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return proc.stdout.strip()

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead or time.monotonic() > deadline:
                why = f"exited {dead}" if dead else f"no success in {timeout:.0f} s"
                raise ClusterUnavailable(f"waiting for {what}: {why}\n{self.logs()}")
            time.sleep(0.5)

    def jobs(self) -> list[dict[str, str]]:
        """Every job the controller still knows (finished ones stay MinJobAge = 600 s)."""
        fields = ("id", "state", "comment", "name")
        proc = subprocess.run(
            ["squeue", "-h", "-t", "all", "-o", "%i|%T|%k|%j"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        rows = [line.split("|") for line in proc.stdout.splitlines()]
        return [dict(zip(fields, row, strict=True)) for row in rows]

    def logs(self, lines: int = 20) -> str:
        text = []
        for path in sorted((self.root / "log").glob("*")):
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            text.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(text)

    def stop(self, timeout: float = 30) -> None:
        """Cancel this cluster's jobs, then end the daemons started here, by pid."""
        if self.procs.get("slurmctld") and self.procs["slurmctld"].poll() is None:
            subprocess.run(
                ["scancel", "--user", "root"], env=self.env, capture_output=True, timeout=30
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    live = [j for j in self.jobs() if j["state"] in ("RUNNING", "COMPLETING")]
                except (subprocess.SubprocessError, OSError):
                    break
                if not live:
                    break
                time.sleep(0.5)
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def raise_interrupt(signum, frame) -> None:
    """A SIGTERM handler: unwind like Ctrl-C, so that ``finally: cluster.stop()`` runs."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(root: str) -> None:
    ensure_installed()
    cluster = Cluster(Path(root))
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        cluster.start()
        print(f"export SLURM_CONF={cluster.conf}   # Ctrl-C stops the cluster", flush=True)
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()


if __name__ == "__main__":
    main(sys.argv[1])
