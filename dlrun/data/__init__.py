"""Data (domain layer): the dataset table (datasets), the one LightningDataModule (module)
and its DataSpec (spec), the built-in datasets, a user's own data, and the checks of data
files before a run. Imports: dlrun.base and the run folder's file modules; torch and
lightning only where data is loaded, never at `dlrun ls` or validation time; never config,
training, sweeps, report or cli (the known exception, checks -> config.overrides, is listed
in tests/test_architecture.py).
"""
