"""What this machine has, read without importing torch: whether a GPU can be visible at all,
and how much memory there is. Validation uses it to refuse, before a run folder exists, a
run that cannot start here (a GPU asked where there is none, a model that cannot fit).
Standard library only."""

from __future__ import annotations

import glob
import os
import sys

# Device files a GPU driver creates on Linux: NVIDIA, AMD ROCm, WSL's GPU paravirtualisation.
GPU_DEVICE_FILES = ("/dev/nvidia[0-9]*", "/dev/kfd", "/dev/dxg")


def surely_no_gpu() -> bool:
    """True only where no GPU can be visible to torch: Linux without any GPU device file, or
    CUDA_VISIBLE_DEVICES hiding every device. Elsewhere (macOS's MPS, unknown systems) False."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1"):
        return True
    if not sys.platform.startswith("linux"):
        return False
    return not any(glob.glob(pattern) for pattern in GPU_DEVICE_FILES)


def physical_memory_bytes():
    """The machine's RAM in bytes (within a cgroup's limit where one is set), or None."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = open(limit_file).read().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total
