"""New inputs as a user has them, read for a trained model (`dlrun predict`): .npy / .npz /
.csv arrays of raw vectors or images (the scale of the original data: digits' pixels 0..16,
a table's own columns), or .txt lines for a text run. The run's InputTransform
(dlrun.data.transform) turns them into what the model trained on; any problem is one
BadInput line naming the file. numpy and the standard library only (no torch).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from dlrun.base.errors import BadInput, shown

ARRAY_FILES = (".npy", ".npz", ".csv")
TEXT_FILES = (".txt",)


def reads_text(spec, transform) -> bool:
    """A char-level text run: its inputs are lines of text, encoded by the saved vocabulary."""
    return spec.modality == "tokens" and transform.kind == "characters"


def check_input_file(path) -> Path:
    """The file exists and has an extension dlrun reads (cheap: before any checkpoint loads)."""
    path = Path(path)
    if path.suffix.lower() not in ARRAY_FILES + TEXT_FILES:
        raise BadInput(f"{path}: inputs must be a {', '.join(ARRAY_FILES + TEXT_FILES)} file, "
                       f"not {path.suffix or 'a file without an extension'!r}")
    if not path.is_file():
        raise BadInput(f"{path}: no such inputs file")
    return path


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _csv_array(path: Path, columns) -> np.ndarray:
    """A CSV's numbers (N, F): with a header row, the run's feature columns by name (any other
    column, such as the target, is left out); without one, every column."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle) if row]
    if not rows:
        raise BadInput(f"{path}: no rows")
    header = None if all(_is_number(cell) for cell in rows[0]) else rows.pop(0)
    if header is not None and columns:
        missing = [name for name in columns if name not in header]
        if missing:
            raise BadInput(f"{path}: no column {missing[0]!r}; the run's features are {', '.join(columns)}")
        rows = [[row[header.index(name)] for name in columns] for row in rows]
    for line, row in enumerate(rows, start=2 if header else 1):
        bad = next((cell for cell in row if not _is_number(cell)), None)
        if bad is not None:
            raise BadInput(f"{path}: line {line}: {shown(bad)!r} is not a number")
        if len(row) != len(rows[0]):
            raise BadInput(f"{path}: line {line} has {len(row)} values; the first row has {len(rows[0])}")
    return np.array(rows, dtype=np.float64)


def _npz_array(path: Path, columns) -> np.ndarray:
    """The file's one array, or the run's feature columns stored as named arrays."""
    with np.load(path, allow_pickle=False) as arrays:
        names = list(arrays.files)
        if columns and all(name in names for name in columns):
            return np.concatenate([arrays[name].reshape(len(arrays[name]), -1) for name in columns], axis=1)
        if len(names) != 1:
            raise BadInput(f"{path}: holds arrays {', '.join(names) or '(none)'}; give one array of inputs"
                           + (f", or the run's feature columns {', '.join(columns)}" if columns else ""))
        return arrays[names[0]]


def read_array(path: Path, columns=None) -> np.ndarray:
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix.lower() == ".npz":
            return _npz_array(path, columns)
        return _csv_array(path, columns)
    except BadInput:
        raise
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise BadInput(f"{path}: cannot read it as {path.suffix} ({shown(error)})") from None


def shaped(array, spec, where: str) -> np.ndarray:
    """(N, *input_shape): rows of the right number of values (flat or shaped), or one sample."""
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise BadInput(f"{where}: inputs must be numbers, not {array.dtype}")
    shape = tuple(spec.input_shape)
    size = math.prod(shape)
    if array.shape in (shape, (size,)):  # a single sample
        array = array[None]
    if array.ndim < 2 or math.prod(array.shape[1:]) != size:
        each = math.prod(array.shape[1:]) if array.ndim >= 2 else array.size
        raise BadInput(f"{where}: each input has {each} values (array shape {array.shape}); the run's model takes "
                       f"{size} ({spec.modality} {shape})")
    if not np.isfinite(array).all():
        raise BadInput(f"{where}: has a missing or non-finite value")
    return array.reshape(len(array), *shape)


def _token_ids(array: np.ndarray, spec, where: str) -> np.ndarray:
    if not np.all(np.equal(np.mod(array, 1), 0)) or array.min() < 0 or array.max() >= spec.vocab_size:
        raise BadInput(f"{where}: token ids must be whole numbers 0..{spec.vocab_size - 1}")
    return array.astype(np.int64)


def text_lines(source, where: str) -> list:
    """The texts to continue: each non-empty line of a .txt file, or the given strings."""
    if isinstance(source, Path):
        if source.suffix.lower() not in TEXT_FILES:
            raise BadInput(f"{source}: a text run reads lines of text from a .txt file")
        try:
            source = source.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            raise BadInput(f"{where}: not UTF-8 text") from None
    lines = [line for line in source if line]
    if not lines:
        raise BadInput(f"{where}: no text (one input per non-empty line)")
    return lines


def model_inputs(source, spec, transform):
    """What the model takes, from `source` (a file path, an array of raw values, or for a text
    run a list of strings): an array (N, *input_shape), or for text a list of (texts, [ids])."""
    where = str(source) if isinstance(source, (str, Path)) else "inputs"
    if isinstance(source, (str, Path)):
        source = check_input_file(source)
    if reads_text(spec, transform):
        lines = text_lines(source, where)
        return lines, [transform.encoded(line, f"{where} line {number}") for number, line in enumerate(lines, 1)]
    if isinstance(source, Path):
        path = source
        if path.suffix.lower() in TEXT_FILES:
            raise BadInput(f"{path}: this run takes {spec.modality} inputs: a {', '.join(ARRAY_FILES)} file, not text")
        source = read_array(path, transform.columns)
    array = shaped(source, spec, where)
    if spec.modality == "tokens":
        return _token_ids(array, spec, where)
    return transform.scaled(array.astype(np.float32), image=spec.modality == "image").astype(np.float32)
