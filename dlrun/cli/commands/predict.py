"""`dlrun predict RUN_DIR INPUTS [out=FILE] [ckpt=best|last|PATH]`: a run's model on new inputs
as a user has them (.npy / .npz / .csv raw vectors or images, .txt lines of text), prepared
by the input transform saved in its checkpoint (dlrun.training.predictor). The predictions
go to a CSV (default RUN_DIR/predict_<ckpt>_<inputs>.csv) whose path is printed.
"""

from __future__ import annotations

from pathlib import Path

from dlrun.base.errors import BadInput, refusing_bad_input

USAGE = ("usage: dlrun predict RUN_DIR INPUTS [out=FILE] [ckpt=best|last|PATH]   "
         "INPUTS: .npy/.npz/.csv in the data's raw scale, or .txt lines for a text run")


def _arguments(args) -> tuple:
    """(run folder, inputs file, ckpt, out): checked before the checkpoint loads."""
    from dlrun.data.inputs import check_input_file
    from dlrun.training.run_folder import split_arguments

    run_dir, options, rest = split_arguments(args, USAGE, options=("ckpt", "out"))
    if len(rest) != 1 or "=" in rest[0]:
        raise BadInput(f"{' '.join(rest) or 'no INPUTS'}: expected one inputs file; {USAGE}")
    if "out" in options and not options["out"]:
        raise BadInput("out=: an empty path; give out=FILE.csv or leave it out")
    return run_dir, check_input_file(rest[0]), options.get("ckpt", "best"), options.get("out")


@refusing_bad_input("predict")
def main(args) -> int:
    from dlrun.training.predictor import TrainedModel, write_rows

    run_dir, inputs, which, out = _arguments(args)
    model = TrainedModel(run_dir, which)
    rows = model.predict(inputs)
    label = which if which in ("best", "last") else Path(which).stem
    path = write_rows(rows, Path(out) if out else run_dir / f"predict_{label}_{inputs.stem}.csv")
    print(f"{len(rows)} prediction{'' if len(rows) == 1 else 's'} from {model.checkpoint.name}: {path}")
    return 0
