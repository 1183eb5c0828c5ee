"""One trial per GPU: on a machine with G GPUs, parallel trials that each train on one device
are pinned to devices in turn (slot i -> GPU i mod G) through CUDA_VISIBLE_DEVICES in the
trial's environment, so G slots run G trials side by side instead of all on GPU 0.

Only for launchers whose trials are processes on this machine (joblib); a cluster launcher's
scheduler hands each job its own GPUs, and a trial over several devices (DDP) uses them all.
"""

from __future__ import annotations

import os

PINNED_ACCELERATORS = ("gpu", "cuda", "auto")


def visible_gpus() -> list:
    """The GPUs this process may hand out: CUDA_VISIBLE_DEVICES when set, else every CUDA device."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [device.strip() for device in listed.split(",") if device.strip() not in ("", "-1")]
    import torch

    return [str(index) for index in range(torch.cuda.device_count())]


def one_device(hardware) -> bool:
    """A trial that trains on a single (possible) GPU: one device, one node, a GPU-capable accelerator."""
    return (str(hardware.get("accelerator")) in PINNED_ACCELERATORS and hardware.get("devices") == 1
            and hardware.get("num_nodes", 1) == 1)


class DevicePlan:
    """Which GPU each slot's trial sees; `env(slot, hardware)` -> {CUDA_VISIBLE_DEVICES: id} or {}."""

    def __init__(self, pin: bool):
        self.pin = pin
        self._gpus = None

    def gpus(self) -> list:
        if self._gpus is None:
            self._gpus = visible_gpus()
        return self._gpus

    def env(self, slot: int, hardware) -> dict:
        if not self.pin or hardware is None or not one_device(hardware) or not self.gpus():
            return {}
        return {"CUDA_VISIBLE_DEVICES": self.gpus()[slot % len(self.gpus())]}


def pins_devices(launcher: dict) -> bool:
    return "joblib" in str(launcher.get("_target_", "")).lower()
