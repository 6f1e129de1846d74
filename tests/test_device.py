"""The device-aware stages (training, Hessian, slices, projected curvature) on CPU and CUDA.

On a CUDA machine the same stages run on both devices and must agree to a
tolerance (floating-point order differs between devices, so not bitwise). On a
CPU-only machine ``device: auto`` must fall back to the CPU and reproduce the
``cpu`` run exactly.
"""

from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from statmech_nn import hessian, landscape, train
from statmech_nn.data import digits

QUICK = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/quick.yaml").read_text())
ARCH = "mlp-d1-w16-tanh"


def _stages(device: str) -> dict[str, xr.Dataset]:
    data = digits(0.25, seed=0)
    cfg = {**QUICK["train"], "replicas": 2, "epochs": 3, "dtype": "float64"}
    trained = train.train_study(data, ARCH, cfg, seed=1, device=device)
    trained.attrs["dataset"] = "digits"
    hcfg = {**QUICK["hessian"], "replicas": 2, "samples": 256, "k": 2}
    hcfg.update(slq_probes=2, trace_probes=4)
    hess = hessian.hessian_study(data, trained, hcfg, seed=2, device=device)
    slices = QUICK["slices"]
    out = {"train": trained, "hessian": hess}
    for name in ("random", "hessian"):
        out[f"slice_{name}"] = landscape.slice_study(
            trained,
            data,
            slices["directions"][name],
            2,
            "float64",
            slices["memory_mb"],
            seed=3,
            hessian=hess,
            device=device,
        )
    out["curvature"] = landscape.curvature_study(
        trained, data, hess, 2, 8, 1e-3, slices["memory_mb"], seed=4, device=device
    )
    return out


# variables that depend on the run's clock or on a device's work split, not on the numbers
UNCOMPARED = {"seconds", "wall_seconds"}


def _numeric(ds: xr.Dataset) -> dict[str, np.ndarray]:
    return {
        name: var.values
        for name, var in ds.data_vars.items()
        if name not in UNCOMPARED and np.issubdtype(var.dtype, np.number)
    }


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only fallback")
def test_device_auto_on_a_cpu_machine_reproduces_the_cpu_run_exactly():
    cpu, auto = _stages("cpu"), _stages("auto")
    for stage in cpu:
        xr.testing.assert_identical(
            cpu[stage].drop_vars(UNCOMPARED, errors="ignore"),
            auto[stage].drop_vars(UNCOMPARED, errors="ignore"),
        )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_agrees_with_cpu_on_every_device_aware_stage():
    cpu, gpu = _stages("cpu"), _stages("cuda")
    for stage in cpu:
        a, b = _numeric(cpu[stage]), _numeric(gpu[stage])
        assert a.keys() == b.keys(), stage
        for name in a:
            np.testing.assert_allclose(
                b[name], a[name], rtol=1e-6, atol=1e-8, err_msg=f"{stage}.{name}"
            )
