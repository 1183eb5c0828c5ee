"""The base layer: what every other layer may use and which uses nothing of dlrun's.

errors (the one bad-input error), options and rules (named entries, their declared knobs and
the checks a knob value passes), paths,
atomic writes, folder ownership, importing a user's `_target_` code, provenance (the git state
of the user's code, package versions), secrets on the command line (masked), and the private
API of Lightning, Optuna and Hydra (one *_private module each). Imports: the standard library,
omegaconf/yaml where needed (Hydra and Optuna inside the functions that use them); never torch
at import time, never another dlrun layer.
"""
