"""Optimizers (one test per table entry), weight decay only on matrices, gradient clipping
applied by the Trainer, and label smoothing: real configs, real torch steps, real Lightning."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

from conftest import TINY
from dlrun.config.compose import compose
from dlrun.data.spec import DataSpec
from dlrun.models.zoo import build_model
from dlrun.recipe.optim import OPTIMIZERS, build_optimizer
from dlrun.config.validate import ConfigError, validate

DIGITS_SPEC = DataSpec(modality="image", task="classification", input_shape=(1, 8, 8), num_classes=10)


def _fixed_digits_batch(count=128):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images[:count], dtype=torch.float32).unsqueeze(1) / 8.0 - 1.0  # (N, 1, 8, 8)
    return images, torch.tensor(digits.target[:count])


def _mlp(*overrides):
    cfg = compose(["model=mlp", *overrides])
    return build_model(cfg.model, DIGITS_SPEC)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_lowers_a_fixed_batch_loss_with_its_default_knobs(name):
    torch.manual_seed(0)
    inputs, targets = _fixed_digits_batch()
    model = _mlp()
    optimizer = build_optimizer(compose([f"optim={name}"]).optim, model)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], f"{name}: loss {losses[0]:.3f} -> {losses[-1]:.3f}"


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_weight_decay_goes_to_matrices_only(name):
    model = _mlp("model.norm=layer")
    optimizer = build_optimizer(compose([f"optim={name}", "optim.weight_decay=0.1"]).optim, model)
    for group in optimizer.param_groups:
        shapes = {parameter.ndim for parameter in group["params"]}
        assert shapes <= ({2} if group["weight_decay"] > 0 else {1}), (group["weight_decay"], shapes)
    grouped = sum(len(group["params"]) for group in optimizer.param_groups)
    assert grouped == len(list(model.parameters()))


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_a_decay_step_shrinks_matrices_and_leaves_biases_and_norm_weights(name):
    """With zero gradients a step is pure weight decay: p -> p * (1 - lr * wd) on 2-D
    parameters (SGD's L2 and AdamW's decoupled decay agree here), 1-D parameters unmoved."""
    lr, decay = 0.1, 0.5
    model = _mlp("model.norm=layer")
    optimizer = build_optimizer(compose([f"optim={name}", f"optim.lr={lr}", f"optim.weight_decay={decay}"]).optim, model)
    before = {key: value.detach().clone() for key, value in model.named_parameters()}
    for parameter in model.parameters():
        parameter.grad = torch.zeros_like(parameter)
    optimizer.step()
    one_d = [key for key, value in model.named_parameters() if value.ndim == 1]
    assert any("1.weight" in key for key in one_d), "the LayerNorm weights are among the 1-D parameters"
    for key, parameter in model.named_parameters():
        expected = before[key] if parameter.ndim == 1 else before[key] * (1 - lr * decay)
        torch.testing.assert_close(parameter.detach(), expected, msg=key)


class _StepRecorder(Callback):
    """Per step: the gradient norm before clipping (Lightning calls this hook before it clips)
    and the parameter change the optimizer made (lr=1 plain SGD: the clipped gradient)."""

    def __init__(self):
        self.raw_norms, self.step_norms, self.step_max = [], [], []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.before = [parameter.detach().clone() for parameter in pl_module.parameters()]

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        grads = [parameter.grad.flatten() for parameter in pl_module.parameters()]
        self.raw_norms.append(torch.cat(grads).norm().item())

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        change = torch.cat([(p.detach() - b).flatten() for p, b in zip(pl_module.parameters(), self.before)])
        self.step_norms.append(change.norm().item())
        self.step_max.append(change.abs().max().item())


@pytest.mark.parametrize("kind, bound", [("norm", 0.05), ("value", 0.002)])
def test_trainer_clips_gradients(tmp_path, kind, bound):
    from dlrun.training.runner import build_components
    from dlrun.training.trainer import build_trainer

    cfg = compose([*TINY, "trainer.max_epochs=1", "optim=sgd", "optim.lr=1.0", f"optim.clip.{kind}={bound}",
                   "logger=none", "callbacks=none"])
    datamodule, task = build_components(cfg)
    recorder = _StepRecorder()
    build_trainer(cfg, tmp_path, extra_callbacks=[recorder]).fit(task, datamodule=datamodule)
    assert len(recorder.step_norms) == 5
    assert min(recorder.raw_norms) > 2 * bound, "the raw gradients must exceed the bound for the test to mean anything"
    measured = recorder.step_norms if kind == "norm" else recorder.step_max
    assert max(measured) <= bound * (1 + 1e-4)
    assert min(measured) >= bound * 0.99, "clipped steps sit at the bound"


def test_clip_by_norm_and_value_together_is_rejected_before_the_run(tmp_path):
    import dlrun

    with pytest.raises(ConfigError, match=r"optim\.clip=.*at most one of optim\.clip\.norm and optim\.clip\.value"):
        dlrun.run(["optim.clip.norm=1.0", "optim.clip.value=0.5"], run_dir=tmp_path / "never")
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("override, key", [
    ("optim.clip.norm=-1", "optim.clip.norm=-1"),
    ("optim.momentum=0", "momentum > 0 for optim=nesterov"),
    ("+optim.foo=1", "not a knob of optim=nesterov"),
    ("loss.label_smoothing=1.0", "loss.label_smoothing=1.0"),
])
def test_bad_optim_and_loss_knobs_name_the_key(override, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("(", r"\(")):
        validate(compose(["optim=nesterov", override]))


def test_label_smoothing_reaches_the_training_loss_only():
    from dlrun.training.runner import build_components

    smoothing = 0.2
    _, task = build_components(compose([f"loss.label_smoothing={smoothing}"]))
    inputs, targets = _fixed_digits_batch(32)
    logits = task(inputs)
    log_probs = logits.log_softmax(-1)
    smoothed = ((1 - smoothing) * F.nll_loss(log_probs, targets) - smoothing * log_probs.mean(-1).mean()).item()
    task.train()
    assert task._losses_and_metrics(logits, targets)["loss"].item() == pytest.approx(smoothed, rel=1e-5)
    task.eval()
    assert task._losses_and_metrics(logits, targets)["loss"].item() == pytest.approx(
        F.cross_entropy(logits, targets).item(), rel=1e-6)
