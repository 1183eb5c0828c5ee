"""dlrun: a config-driven deep-learning experiment runner.

Importing the package is cheap: torch and lightning load only when a run starts.
"""

__version__ = "0.1.0"


def run(overrides=None, run_dir=None):
    """Compose the configs with Hydra overrides, train, test, and return the run summary.

    The same path as the `dlrun` CLI: `dlrun.run(["optim=sgd", "optim.lr=0.1"])`.
    """
    from dlrun.cli.api import run as _run

    return _run(overrides, run_dir=run_dir)


def load(run_dir, ckpt="best"):
    """A run's trained model from its checkpoint (best, last or a path), ready for new inputs:

        dlrun.load("RUN_DIR").predict("new.npy")   # rows: prediction and per-class probabilities

    predict() takes what `dlrun predict` takes (a .npy/.npz/.csv/.txt path, an array of raw
    values, or a list of strings for a text run) and returns the rows of its CSV."""
    from dlrun.training.predictor import TrainedModel

    return TrainedModel(run_dir, ckpt)


def __getattr__(name):
    # `dlrun.TaskModule` imports lightning on first use only: `import dlrun` stays cheap
    if name == "TaskModule":
        from dlrun.training.task import TaskModule

        return TaskModule
    raise AttributeError(f"module 'dlrun' has no attribute {name!r}")


__all__ = ["run", "load", "TaskModule", "__version__"]
