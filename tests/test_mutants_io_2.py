"""Provenance promises a fresh mutation run (issue 19) found unexercised: the commit of
the checkout asked about, and a history timestamp in UTC."""

import datetime as dt
import subprocess

from statmech_nn.io import git_commit, provenance_attrs


def test_git_commit_reads_the_checkout_it_is_pointed_at(tmp_path):
    """``git_commit(cwd)`` is the HEAD of the repository at ``cwd``, not of the current one."""
    who = {
        f"GIT_{r}_{k}": v
        for r in ("AUTHOR", "COMMITTER")
        for k, v in (("NAME", "t"), ("EMAIL", "t@t"))
    }
    env = {**who, "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    run = dict(cwd=tmp_path, env=env, check=True, capture_output=True, text=True)
    subprocess.run(["git", "init", "-q"], **run)
    (tmp_path / "f.txt").write_text("x")
    subprocess.run(["git", "add", "f.txt"], **run)
    subprocess.run(["git", "commit", "-q", "-m", "one"], **run)
    head = subprocess.run(["git", "rev-parse", "HEAD"], **run).stdout.strip()
    assert git_commit(tmp_path) == head
    assert git_commit(tmp_path / "missing-dir") is None


def test_history_timestamp_is_utc_with_its_offset():
    """CF history starts with an ISO 8601 time in UTC, offset written (+00:00)."""
    history = provenance_attrs(title="t", rule="r")["history"]
    stamp = history.split(" ")[0]
    when = dt.datetime.fromisoformat(stamp)
    assert when.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - when) < dt.timedelta(minutes=5)
    assert history.endswith("created by rule r")
