"""The callbacks' knobs (`cfg.callbacks`), declared once, and the weight-averaging options
(`callbacks.averaging.name`), readable without torch: validation and `dlrun ls` use them;
the classes load only when a run starts. Defaults live in conf/callbacks/default.yaml."""

from __future__ import annotations

from dlrun.base.options import Knob, Option
from dlrun.base.rules import BOOLEAN, Rule, integer, is_number, number, one_of

# name -> its class; an averager's knobs are the CALLBACK_KNOBS under averaging.NAME
AVERAGERS = {
    "none": Option(impl=None),
    "ema": Option(impl="dlrun.callbacks.averaging:ExponentialMovingAverage"),
    "swa": Option(impl="dlrun.callbacks.averaging:StochasticWeightAverage"),
}

# {dotted key under `callbacks`: Knob}
CALLBACK_KNOBS = {
    "checkpoint.save_best": Knob(BOOLEAN, "keep the checkpoint with the best objective"),
    "checkpoint.save_last": Knob(BOOLEAN, "keep last.ckpt (epoch ends, the end, failures, signals)"),
    "checkpoint.last_min_interval_s": Knob(number(0), "epoch ends save last.ckpt only this long after the last save"),
    "early_stopping.enabled": Knob(BOOLEAN, "stop when the objective stops improving"),
    "early_stopping.patience": Knob(integer(0), "validations without improvement before stopping"),
    "early_stopping.min_delta": Knob(number(0), "the smallest change that counts as an improvement"),
    "averaging.name": Knob(one_of(AVERAGERS), "average the weights: none, ema or swa"),
    "averaging.ema.decay": Knob(number(0, 1, low_open=True, high_open=True), "the average keeps this fraction each update"),
    "averaging.ema.warmup": Knob(BOOLEAN, "decay min(decay, (1 + n) / (10 + n)) after n updates"),
    "averaging.ema.every_n_steps": Knob(integer(1), "optimizer steps between updates"),
    "averaging.swa.start_fraction": Knob(number(0, 1, high_open=True), "start after this fraction of the steps"),
    "averaging.swa.every_n_steps": Knob(integer(0), "0: once per epoch; N: every N optimizer steps"),
    "gradient_noise.enabled": Knob(BOOLEAN, "add annealed Gaussian noise to the gradients"),
    "gradient_noise.eta": Knob(number(0, low_open=True), "noise variance eta / (1 + t)^gamma"),
    "gradient_noise.gamma": Knob(number(0), "the noise's decay exponent"),
    "divergence.enabled": Knob(BOOLEAN, "stop a run whose loss is non-finite or explodes"),
    "divergence.check_every_n_steps": Knob(integer(1), "steps between checks (each reads the loss on the host)"),
    "divergence.max_loss_ratio": Knob(Rule(lambda v: v is None or (is_number(v) and v > 1), "null (off) or a number > 1"),
                                      "loss / first loss above this counts as divergence; null: only non-finite"),
    "diagnostics.every_n_steps": Knob(integer(1), "steps between sampled diagnostics"),
    "diagnostics.grad_norm": Knob(BOOLEAN, "global and per-layer gradient norms"),
    "diagnostics.update_ratio": Knob(BOOLEAN, "per-layer |update| / |weight| of the optimizer step"),
    "diagnostics.activations": Knob(BOOLEAN, "per-layer activation mean, std and dead fraction"),
}
