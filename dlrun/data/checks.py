"""Problems with a data config found before anything is loaded: split sizes and the files a
dataset reads (missing, empty, wrong format, wrong image size, missing target column).

Runs at validation time, so it uses the standard library only (no torch, no numpy) and reads
file headers, not whole files. Each problem names the key or file and what is wrong; the
loaders run the same checks again after a download.
"""

from __future__ import annotations

import ast
import csv
import gzip
import itertools
import struct
import zipfile
from pathlib import Path

from dlrun.base.errors import shown

IDX_IMAGES, IDX_LABELS = 0x00000803, 0x00000801  # unsigned bytes, 3 dims / 1 dim
IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
CIFAR_ARCHIVE, CIFAR_FOLDER = "cifar-10-python.tar.gz", "cifar-10-batches-py"
CIFAR_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple:
    """(train, val, test) sample counts of n by the fractions: the one rounding rule."""
    n_test = int(round(n * test_fraction))
    n_val = int(round(n * val_fraction))
    return n - n_val - n_test, n_val, n_test


def split_problems(n: int, cfg_data, what: str) -> list:
    """Every split must hold at least one sample."""
    _, n_val, n_test = split_sizes(n, cfg_data["val_fraction"], cfg_data["test_fraction"])
    if n_val >= 1 and n - n_val - n_test >= 1 and (n_test >= 1 or cfg_data["test_fraction"] == 0):
        return []
    return [f"{what}: {n} samples leave train/val/test = {n - n_val - n_test}/{n_val}/{n_test} with "
            f"data.val_fraction={cfg_data['val_fraction']} and data.test_fraction={cfg_data['test_fraction']}; "
            "every split needs at least one sample (use more data or other fractions)"]


def _missing(path: Path, key: str) -> list:
    """[] when `path` is a file this process can read; else what is wrong with it."""
    try:
        if path.is_file():
            with path.open("rb"):
                return []
        return [f"{key}={shown(str(path))!r}: no such file" + (" (a folder)" if path.is_dir() else "")]
    except OSError as error:  # a name too long, a folder not searchable, a file not readable
        return [f"{key}={shown(str(path))!r}: cannot read it ({error.strerror or error})"]


def _data_file(cfg_data, what: str):
    """(data.path as a Path, []) when it names an existing file; else (None, [the problem]).
    `what` says what the file must be, for the message when data.path is not set."""
    if cfg_data["path"] in (None, "???"):
        return None, [f"data.path: required for data={cfg_data['name']} ({what})"]
    path = Path(cfg_data["path"])
    return path, _missing(path, "data.path")


# --- generated data -------------------------------------------------------------------------

def generated(cfg_data) -> list:
    """Toys and sequence tasks: n_samples must fill every split; brackets need an even length."""
    problems = split_problems(cfg_data["n_samples"], cfg_data, f"data.n_samples={cfg_data['n_samples']}")
    if cfg_data["name"] == "brackets" and cfg_data["length"] % 2:
        problems.append(f"data.length={cfg_data['length']}: expected an even length for data=brackets "
                        "(an odd-length sequence is never balanced)")
    if cfg_data["name"] in ("parity", "adding") and cfg_data["vocab"] < 2:
        problems.append(f"data.vocab={cfg_data['vocab']}: expected >= 2 for data={cfg_data['name']}")
    return problems


# --- char-level text ------------------------------------------------------------------------

def text(cfg_data) -> list:
    path, problems = _data_file(cfg_data, "a UTF-8 text file: data.path=corpus.txt")
    if problems:
        return problems
    size = path.stat().st_size
    if size == 0:
        return [f"data.path={str(path)!r}: the text file is empty"]
    # a UTF-8 character takes at most 4 bytes: when size / 4 characters are already enough,
    # a big file need not be read here
    if text_length_problems(size // 4, path, cfg_data) == []:
        return []
    text, problems = read_utf8(path)
    return problems or text_length_problems(len(text), path, cfg_data)


def read_utf8(path: Path):
    """(the file's text, []) or (None, [why it is not UTF-8 text])."""
    try:
        return path.read_text(encoding="utf-8"), []
    except UnicodeDecodeError as error:
        return None, [f"data.path={str(path)!r}: not UTF-8 text ({error.reason} at byte {error.start})"]


def text_length_problems(chars: int, path: Path, cfg_data) -> list:
    seq_len = cfg_data["seq_len"]
    if chars < seq_len + 1:
        return [f"data.path={str(path)!r}: the text has {chars} characters, too short for "
                f"data.seq_len={seq_len} (one window needs seq_len + 1 = {seq_len + 1})"]
    return split_problems((chars - 1) // seq_len, cfg_data, f"data.path={str(path)!r} with data.seq_len={seq_len}")


# --- tables ---------------------------------------------------------------------------------

def table_columns(path: Path) -> list:
    """Column names of a CSV (its header) or an NPZ (its array names)."""
    if path.suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            return [name[: -len(".npy")] for name in archive.namelist() if name.endswith(".npy")]
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle), [])


def npy_shape(archive: zipfile.ZipFile, column: str) -> tuple:
    """The shape of array `column` in an NPZ, from its .npy header (nothing else is read)."""
    with archive.open(column + ".npy") as handle:
        head = handle.read(10)
        if head[:6] != b"\x93NUMPY":
            raise ValueError(f"array {column!r} is not in .npy format")
        size_bytes = 2 if head[6] == 1 else 4
        length = int.from_bytes((head[8:10] + handle.read(size_bytes - 2))[:size_bytes], "little")
        header = handle.read(length).decode("latin-1")
    return tuple(ast.literal_eval(header)["shape"])


def table_rows(path: Path, target: str, limit: int = None):
    """Data rows of a CSV (non-empty lines after the header) or the target array's length in
    an NPZ. With `limit`, a CSV is counted up to limit + 1 rows only (the count is then a floor)."""
    if path.suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            shape = npy_shape(archive, target)
        return shape[0] if shape else 1
    with path.open(newline="", encoding="utf-8") as handle:
        rows = (row for row in csv.reader(handle) if row)
        next(rows, None)  # the header
        return sum(1 for _ in itertools.islice(rows, limit + 1 if limit is not None else None))


def table(cfg_data) -> list:
    path, problems = _data_file(cfg_data, "a .csv with a header row, or an .npz of named arrays")
    if problems:
        return problems
    if cfg_data["target"] in (None, "???"):
        return ["data.target: required for data=table (the target column: data.target=COLUMN)"]
    if path.suffix not in (".csv", ".npz"):
        return [f"data.path={str(path)!r}: expected a .csv or .npz file"]
    try:
        columns = table_columns(path)
    except (zipfile.BadZipFile, UnicodeDecodeError, OSError) as error:
        return [f"data.path={str(path)!r}: cannot read it as {path.suffix[1:].upper()}: {error}"]
    if not columns:
        return [f"data.path={str(path)!r}: the file is empty (no header row)"]
    wanted = {cfg_data["target"]: "data.target", **{name: "data.features" for name in cfg_data.get("features") or []}}
    missing = [f"data.path={str(path)!r} has no column {name!r} (asked for by {key}); its columns: {', '.join(columns)}"
               for name, key in wanted.items() if name not in columns]
    return missing or _table_row_problems(path, cfg_data)


def _table_row_problems(path: Path, cfg_data) -> list:
    try:
        rows = table_rows(path, cfg_data["target"], limit=1)
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, SyntaxError, KeyError, OSError, csv.Error) as error:
        return [f"data.path={str(path)!r}: cannot read it as {path.suffix[1:].upper()}: {error}"]
    if rows == 0:
        return [f"data.path={str(path)!r}: the table has a header but no data rows"]
    return _npz_length_problems(path, cfg_data) if path.suffix == ".npz" else []


def _npz_length_problems(path: Path, cfg_data) -> list:
    """An NPZ's columns (the target and the features the run reads) must hold one row per
    sample: the same first dimension (read from the .npy headers only)."""
    with zipfile.ZipFile(path) as archive:
        columns = cfg_data.get("features") or table_columns(path)
        try:
            lengths = {name: (npy_shape(archive, name) or (1,))[0] for name in dict.fromkeys([*columns, cfg_data["target"]])}
        except (ValueError, SyntaxError, KeyError) as error:
            return [f"data.path={str(path)!r}: cannot read it as NPZ: {error}"]
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {length}" for name, length in lengths.items())
        return [f"data.path={str(path)!r}: its arrays hold different numbers of rows ({listed}); every column "
                "needs one row per sample"]
    return []


# --- MNIST-format (IDX) image files -----------------------------------------------------------

def idx_path(root: Path, name: str):
    """The file NAME.gz or NAME in root (as published, or already decompressed); None if neither."""
    for candidate in (root / f"{name}.gz", root / name):
        if candidate.is_file():
            return candidate
    return None


def read_idx_bytes(path: Path, length: int = -1) -> bytes:
    """The first `length` bytes (all with -1) of an IDX file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return handle.read(length)


def _data_bytes(path: Path) -> int:
    """Uncompressed size: a gzip file's trailer holds it (mod 2**32), so nothing is decompressed."""
    if path.suffix != ".gz":
        return path.stat().st_size
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return struct.unpack("<I", handle.read(4))[0]


def idx_pair_problems(images: Path, labels: Path, shape: tuple) -> list:
    """An images/labels IDX pair: magic numbers, image size, counts, file lengths."""
    try:
        image_head, label_head = read_idx_bytes(images, 16), read_idx_bytes(labels, 8)
    except (OSError, EOFError) as error:
        return [f"{images} / {labels}: cannot read ({error})"]
    if len(image_head) < 16 or struct.unpack(">I", image_head[:4])[0] != IDX_IMAGES:
        return [f"{images}: not an IDX image file (wrong magic number; expected 0x{IDX_IMAGES:08x})"]
    if len(label_head) < 8 or struct.unpack(">I", label_head[:4])[0] != IDX_LABELS:
        return [f"{labels}: not an IDX label file (wrong magic number; expected 0x{IDX_LABELS:08x})"]
    count, rows, cols = struct.unpack(">III", image_head[4:16])
    n_labels = struct.unpack(">I", label_head[4:8])[0]
    if (rows, cols) != tuple(shape):
        return [f"{images}: images are {rows}x{cols}; expected {shape[0]}x{shape[1]}"]
    if count != n_labels:
        return [f"{images} holds {count} images but {labels} holds {n_labels} labels"]
    problems = []
    for path, expected in ((images, 16 + count * rows * cols), (labels, 8 + count)):
        actual = _data_bytes(path)
        if actual != expected % 2**32:
            problems.append(f"{path}: {actual} bytes of data, but its header promises {expected} "
                            "(truncated or corrupt file)")
    return problems


def _unreadable_root(root: Path) -> list:
    try:
        root.is_dir()
        return []
    except OSError as error:
        return [f"data.root={shown(str(root))!r}: cannot read it ({error.strerror or error})"]


def idx_images(cfg_data, shape=(28, 28)) -> list:
    """MNIST / Fashion-MNIST in data.root; missing files are fine when data.download will fetch them."""
    root, missing = Path(cfg_data["root"]), []
    problems = _unreadable_root(root)
    if problems:
        return problems
    for images_name, labels_name in IDX_FILES.values():
        images, labels = idx_path(root, images_name), idx_path(root, labels_name)
        if images is None or labels is None:
            missing += [name for name, path in ((images_name, images), (labels_name, labels)) if path is None]
            continue
        problems += idx_pair_problems(images, labels, shape)
    if missing and not cfg_data.get("download"):
        problems.append(f"data.root={str(root)!r}: missing {', '.join(name + '.gz' for name in missing)} "
                        f"(as published, or decompressed) for data={cfg_data['name']}; data.download=true fetches them")
    return problems


# --- CIFAR-10 (python pickle batches) ---------------------------------------------------------

def cifar_source(root: Path):
    """Where the batches are: the folder holding them, or the published archive; None if absent."""
    for folder in (root / CIFAR_FOLDER, root):
        if (folder / CIFAR_BATCHES[0]).is_file():
            return folder
    archive = root / CIFAR_ARCHIVE
    return archive if archive.is_file() else None


def cifar10(cfg_data) -> list:
    root = Path(cfg_data["root"])
    problems = _unreadable_root(root)
    if problems:
        return problems
    source = cifar_source(root)
    if source is None:
        if cfg_data.get("download"):
            return []
        return [f"data.root={str(root)!r}: no {CIFAR_ARCHIVE} and no {CIFAR_FOLDER}/ with the batches "
                f"({', '.join(CIFAR_BATCHES)}); data.download=true fetches the archive"]
    if source.is_dir():
        missing = [name for name in CIFAR_BATCHES if not (source / name).is_file()]
        if missing:
            return [f"{source}: missing CIFAR-10 batch files {', '.join(missing)}"]
    return []
