"""Whether a run's model can fit this machine, estimated before its weights are allocated.

The network is built on PyTorch's `meta` device (shapes only, no memory) and run once on a
meta batch: its parameter count and the sizes of every layer's outputs for one batch give a
lower bound of what training needs, weights + gradients + one batch's activations (the
optimizer's state comes on top). A run whose lower bound exceeds the memory it trains in
(the GPU's, or the RAM) is refused with one line before any allocation: without this, a
model of width 2**30 dies minutes later allocating hundreds of GB. A model that cannot be
built or run on `meta` (a user's code reading values) is not estimated."""

from __future__ import annotations

from dlrun.base.errors import ConfigError

GB = 1e9
BYTES_PER_ELEMENT = {"64-true": 8, "bf16-true": 2, "16-true": 2}  # weights' dtype; mixed keeps float32 weights


def _meta_model(cfg, spec):
    import torch

    from dlrun.models.zoo import build_model

    with torch.device("meta"):
        return build_model(cfg.model, spec)


def _activation_elements(model, spec, batch_size: int) -> int:
    """Elements of every module's output for one batch (what backward keeps), on meta tensors."""
    import torch

    dtype = torch.long if spec.modality == "tokens" else torch.float32
    inputs = torch.empty((batch_size, *spec.input_shape), dtype=dtype, device="meta")
    total = 0

    def count(module, args, output):
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    hooks = [module.register_forward_hook(count) for module in model.modules() if not list(module.children())]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _available(cfg):
    """(bytes, what) of the memory the run trains in, or (None, '')."""
    from dlrun.base.machine import physical_memory_bytes

    if cfg.hardware.accelerator in ("gpu", "cuda", "auto"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_properties(0).total_memory, "GPU memory"
    return physical_memory_bytes(), "RAM"


def memory_problem(cfg, spec):
    """One line when training `cfg`'s model on `spec` cannot fit this machine, else None."""
    try:
        model = _meta_model(cfg, spec)
        parameters = sum(parameter.numel() for parameter in model.parameters())
    except Exception:  # not buildable on meta: no estimate, the real build decides
        return None
    try:
        activations = _activation_elements(model, spec, int(cfg.data.batch_size))
    except Exception:  # a forward that needs values: weights and gradients alone
        activations = 0
    element = BYTES_PER_ELEMENT.get(str(cfg.hardware.precision), 4)
    weights = parameters * element
    needed = 2 * weights + activations * 4
    available, where = _available(cfg)
    if available is None or needed <= available:
        return None
    return (f"model: training needs at least {needed / GB:.1f} GB ({parameters:,} parameters: {weights / GB:.1f} GB "
            f"of weights and as much of gradients, before the optimizer's state; one batch's activations "
            f"{activations * 4 / GB:.1f} GB); this machine has {available / GB:.1f} GB of {where}: shrink the model "
            "(model.width, model.depth) or data.batch_size")


def check_memory(cfg, spec) -> None:
    problem = memory_problem(cfg, spec)
    if problem:
        raise ConfigError([problem])
