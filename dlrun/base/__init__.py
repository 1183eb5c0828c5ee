"""The base layer: what every other layer may use and which uses nothing of dlrun's.

errors (the one bad-input error), options and rules (named entries, their declared knobs and
the checks a knob value passes), paths,
atomic writes, folder ownership, importing a user's `_target_` code, provenance (the git state
of the user's code, package versions, URLs with their password masked). Imports: the standard
library, omegaconf/yaml where needed; never torch at import time, never another dlrun layer.
"""
