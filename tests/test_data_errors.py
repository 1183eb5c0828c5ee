"""Bad data input through the real CLI: exit 2 and one clear line naming the file and the
problem, before any training starts (no run folder is made for the ones validation catches)."""

from __future__ import annotations

import gzip
import pickle
import re
import struct

import numpy as np
import pytest

from conftest import TINY, heavy_imports_after, only_run_dir, read_json
from zoo_fixtures import write_cifar, write_idx, write_table


def _empty(path):
    path.write_text("")
    return path


def _short(path):
    path.write_text("hello wor")
    return path


def _latin1(path):
    path.write_bytes("caf\xe9 au lait, ".encode("latin-1") * 10)
    return path


TEXT_CASES = {
    "missing": (lambda path: path, r"data.path='{path}': no such file"),
    "empty": (_empty, r"data.path='{path}': the text file is empty"),
    "too short": (_short, r"data.path='{path}': the text has 9 characters, too short for data.seq_len=16 "
                          r"\(one window needs seq_len \+ 1 = 17\)"),
    "not utf-8": (_latin1, r"data.path='{path}': not UTF-8 text \(invalid continuation byte at byte 3\)"),
}


@pytest.mark.parametrize("case", sorted(TEXT_CASES))
def test_bad_text_file(cli, tmp_path, case):
    write, message = TEXT_CASES[case]
    path = write(tmp_path / "corpus.txt")
    result = cli("data=text", f"data.path={path}", "data.seq_len=16")
    assert result.returncode == 2, result.output
    assert result.stderr.startswith("dlrun: config error:")
    assert re.search(message.format(path=path), result.stderr), result.stderr
    assert not (tmp_path / "outputs").exists()  # stopped before a run folder


def test_csv_without_the_target_column(cli, tmp_path):
    path = write_table(tmp_path / "t.csv")
    result = cli("data=table", f"data.path={path}", "data.target=price")
    assert result.returncode == 2
    assert f"data.path='{path}' has no column 'price' (asked for by data.target); its columns: a, b, c, label" \
        in result.stderr


def _wrong_magic(root):
    path = root / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(struct.pack(">I", 0x801) + data[4:]))  # a label file's magic
    return path, "not an IDX image file (wrong magic number; expected 0x00000803)"


def _wrong_size(root):
    written = write_idx(root, size=32)  # 32x32 images where MNIST has 28x28
    return root / next(iter(written)), "images are 32x32; expected 28x28"


@pytest.mark.parametrize("damage", [_wrong_magic, _wrong_size])
def test_bad_mnist_files(cli, tmp_path, damage):
    write_idx(tmp_path)
    path, problem = damage(tmp_path)
    result = cli("data=mnist", f"data.root={tmp_path}")
    assert result.returncode == 2 and f"{path}: {problem}" in result.stderr, result.stderr


def test_missing_mnist_files_say_what_is_needed(cli, tmp_path):
    result = cli("data=fashion_mnist", f"data.root={tmp_path}")
    assert result.returncode == 2
    assert (f"data.root='{tmp_path}': missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (as published, or decompressed) for "
            "data=fashion_mnist; data.download=true fetches them") in result.stderr


@pytest.mark.slow
def test_bad_cifar_batch_found_while_loading_exits_2(cli, tmp_path):
    """A batch's content is only seen when it is read (at data loading, before the Trainer):
    the run stops there with exit 2, and its summary.json records the error."""
    folder = write_cifar(tmp_path, per_batch=4)
    bad = folder / "data_batch_3"
    bad.write_bytes(pickle.dumps({"data": np.zeros((4, 1024), np.uint8), "labels": [0, 1, 2, 3]}, protocol=2))
    result = cli("data=cifar10", f"data.root={tmp_path}", *TINY)
    assert result.returncode == 2, result.output
    expected = (f"{bad}: data is (4, 1024) uint8 with 4 labels; CIFAR-10 batches hold (N, 3072) uint8 rows "
                "(3x32x32 images) and N labels")
    assert expected in result.stderr
    summary = read_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["status"] == "failed" and expected in summary["error"] and summary["global_step"] == 0


def test_data_file_checks_do_not_import_torch(tmp_path):
    """Validation reads file headers with the standard library: a bad data file is reported
    without the seconds that importing torch, numpy-heavy loaders or sklearn would cost."""
    write_idx(tmp_path, size=32)
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    heavy, codes, stderr = heavy_imports_after(
        [["data=mnist", f"data.root={tmp_path}"], ["data=table", f"data.path={tmp_path / 't.csv'}", "data.target=c"],
         ["validate", "data=brackets", "data.length=7"]], tmp_path)
    assert heavy == [] and codes == [2, 2, 2], stderr
    assert stderr.count("dlrun: config error:") == 3 and "images are 32x32; expected 28x28" in stderr
