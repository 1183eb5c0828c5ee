"""Config in, validated config out: Hydra composition, override parsing, validation against
the options' declarations, and the checks a command line gets before anything starts.
Imports: dlrun.base and the domain packages' tables (models, data, recipe, callbacks,
loggers, distributed.strategies), never torch or lightning at import time, never the
training, sweeps, report or cli layers.
"""
