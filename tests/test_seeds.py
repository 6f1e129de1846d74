import os
import subprocess
import sys
from pathlib import Path

from statmech_nn.seeds import derive_seed

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_seed_depends_on_every_part_and_order_of_mappings_does_not_matter():
    base = derive_seed(0, "train", {"dataset": "digits", "arch": "perceptron"})
    assert base == derive_seed(0, "train", {"arch": "perceptron", "dataset": "digits"})
    assert base != derive_seed(1, "train", {"dataset": "digits", "arch": "perceptron"})
    assert base != derive_seed(0, "hessian", {"dataset": "digits", "arch": "perceptron"})
    assert 0 <= base < 2**63


def test_seed_is_the_same_in_other_processes_whatever_the_hash_salt():
    code = "from statmech_nn.seeds import derive_seed; print(derive_seed(3, 'x', {'a': 'b'}))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": salt, "PYTHONPATH": SRC},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for salt in ("1", "2")
    }
    assert outs == {str(derive_seed(3, "x", {"a": "b"}))}
