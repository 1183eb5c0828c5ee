"""Names of the weight-averaging callbacks (`callbacks.averaging.name`), readable without
torch: validation and `dlrun ls` use them; the classes load only when a run starts."""

from __future__ import annotations

# name -> "module:Class" (None: no averaging)
AVERAGERS = {
    "none": None,
    "ema": "dlrun.callbacks.ema:ExponentialMovingAverage",
    "swa": "dlrun.callbacks.swa:StochasticWeightAverage",
}
