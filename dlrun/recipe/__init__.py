"""The training recipe: optimizers, learning-rate schedules, weight initialisation, transfer
from a checkpoint, and metric names. Each option is an entry of its module's table, its knobs
declared there. Imports: dlrun.base, dlrun.models (layer lookups); torch only inside factories.
"""
