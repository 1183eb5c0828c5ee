"""File-backed data on files the tests write: MNIST-format IDX, CIFAR-10 batches, char-level
text, CSV / NPZ tables, and the download path against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest
import torch

from dlrun.config.compose import compose
from dlrun.data.datasets import load_splits
from dlrun.config.validate import ConfigError, validate
from zoo_fixtures import IDX_NAMES, class_images, write_cifar, write_idx, write_table, write_text

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def _data(*overrides):
    cfg = compose(list(overrides))
    validate(cfg)
    return cfg.data


def _pixels(images):
    """Normalised MNIST tensors back to 0..255 pixel values."""
    return ((images * MNIST_STD + MNIST_MEAN) * 255).round().to(torch.uint8)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_idx_files_with_the_official_test_split(tmp_path, gz):
    write_idx(tmp_path, n_train=40, n_test=20, gz=gz)
    splits = load_splits(_data("data=mnist", f"data.root={tmp_path}", "data.val_fraction=0.25"), seed=0)
    assert splits.spec.input_shape == (1, 28, 28) and splits.spec.num_classes == 10
    assert (len(splits.train[0]), len(splits.val[0]), len(splits.test[0])) == (30, 10, 20)
    test_images, test_labels = class_images(20, 1, 28, seed=len("test"))  # what write_idx wrote for the test split
    assert torch.equal(_pixels(splits.test[0]), torch.from_numpy(test_images))
    assert splits.test[1].tolist() == test_labels.tolist()
    train_images, train_labels = class_images(40, 1, 28, seed=len("train"))
    seen = {bytes(image) for image in _pixels(torch.cat([splits.train[0], splits.val[0]])).numpy()}
    assert seen == {bytes(image) for image in train_images}  # train + val = exactly the training files


def test_file_backed_path_serves_the_same_samples_through_a_dataloader(tmp_path):
    write_idx(tmp_path)
    preloaded = load_splits(_data("data=mnist", f"data.root={tmp_path}"), seed=1)
    from_files = load_splits(_data("data=mnist", f"data.root={tmp_path}", "data.in_memory=false"), seed=1)
    assert isinstance(from_files.train, torch.utils.data.Dataset)
    assert (tmp_path / "train-images-idx3-ubyte").is_file()  # decompressed once, memory-mapped by the workers
    loader = torch.utils.data.DataLoader(from_files.train, batch_size=64, num_workers=1)
    images, labels = next(iter(loader))
    assert torch.allclose(images, preloaded.train[0], atol=1e-6) and torch.equal(labels, preloaded.train[1])


@pytest.mark.parametrize("archive", [False, True])
def test_cifar10_reads_the_batches_folder_or_archive(tmp_path, archive):
    write_cifar(tmp_path, per_batch=6, archive=archive)
    splits = load_splits(_data("data=cifar10", f"data.root={tmp_path}"), seed=0)
    assert splits.spec.input_shape == (3, 32, 32) and len(splits.test[0]) == 6
    assert len(splits.train[0]) + len(splits.val[0]) == 30
    images, labels = class_images(6, 3, 32, seed=5)  # test_batch
    assert splits.test[1].tolist() == labels.tolist()
    band = splits.test[0][:, 0, :, :].mean(-1)  # (N, rows): the class's bright band is the brightest row
    assert band.argmax(1).div(2, rounding_mode="floor").tolist() == labels.tolist()


def test_text_windows_predict_the_next_character(tmp_path):
    path = write_text(tmp_path / "corpus.txt")
    text = path.read_text()
    splits = load_splits(_data("data=text", f"data.path={path}", "data.seq_len=12"), seed=0)
    spec = splits.spec
    assert spec.causal and spec.task == "sequence" and spec.vocab_size == len(set(text)) == spec.num_classes
    characters = sorted(set(text))
    inputs, targets = splits.train
    window = "".join(characters[i] for i in inputs[0].tolist())
    start = text.index(window)
    assert "".join(characters[i] for i in targets[0].tolist()) == text[start + 1 : start + 13]
    assert sum(len(part[0]) for part in (splits.train, splits.val, splits.test)) == (len(text) - 1) // 12


def test_csv_table_classification_standardised_on_train(tmp_path):
    path = write_table(tmp_path / "t.csv", rows=200)
    splits = load_splits(_data("data=table", f"data.path={path}", "data.target=label"), seed=0)
    assert splits.spec.input_shape == (3,) and splits.spec.num_classes == 2
    train = splits.train[0]
    assert torch.allclose(train.mean(0), torch.zeros(3), atol=1e-5)
    assert torch.allclose(train.std(0), torch.ones(3), atol=1e-4)
    raw = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    labels = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=3, dtype=str)
    every = torch.cat([splits.train[1], splits.val[1], splits.test[1]])
    assert sorted(every.tolist()) == sorted((labels == "yes").astype(int).tolist())  # no < yes: classes 0, 1
    assert not np.allclose(splits.test[0].numpy().mean(0), 0, atol=1e-5)  # test scaled by train's statistics
    assert raw.std(0)[2] > 50  # the raw third column was on another scale


def test_npz_table_regression_with_chosen_features(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 4)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x=x, noise=rng.normal(size=100), y=x[:, 0] * 2 + 1)
    splits = load_splits(_data("data=table", f"data.path={tmp_path / 't.npz'}", "data.target=y", "data.task=regression",
                               "data.features=[x]"), seed=0)
    assert splits.spec.task == "regression" and splits.spec.input_shape == (4,) and splits.spec.target_dim == 1
    inputs, targets = splits.train
    assert targets.shape == (len(inputs), 1)
    assert torch.corrcoef(torch.stack([inputs[:, 0], targets[:, 0]]))[0, 1] > 0.999


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/served; yields (folder, URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_download_fetches_and_verifies_then_loads(tmp_path, mirror):
    served, url = mirror
    written = write_idx(served)
    sums = {name: f"sha256:{hashlib.sha256(content).hexdigest()}" for name, content in written.items()}
    root = tmp_path / "mnist"
    checksums = "{" + ",".join(f"{name}:'{value}'" for name, value in sums.items()) + "}"
    cfg = _data("data=mnist", f"data.root={root}", "data.download=true", f"data.mirror={url}",
                f"data.checksums={checksums}")
    splits = load_splits(cfg, seed=0)
    assert {path.name for path in root.iterdir()} == set(written)  # no partial files left
    assert len(splits.test[0]) == 20 and (root / IDX_NAMES["train"][0]).with_suffix(".gz").read_bytes() == \
        written["train-images-idx3-ubyte.gz"]


def test_download_rejects_a_checksum_mismatch_and_removes_the_file(tmp_path, mirror):
    served, url = mirror
    write_idx(served)  # not the published MNIST files: the published md5 sums cannot match
    root = tmp_path / "mnist"
    cfg = _data("data=mnist", f"data.root={root}", "data.download=true", f"data.mirror={url}")
    with pytest.raises(ConfigError, match=r"checksum mismatch for http://127\.0\.0\.1:\d+/train-images-idx3-ubyte\.gz: "
                                          r"expected md5:f68b3c2dcbeaaa9fbdd348bbdeb94873, got md5:[0-9a-f]{32}"):
        load_splits(cfg, seed=0)
    assert list(root.iterdir()) == []  # the bad download was removed


def test_download_reports_an_unreachable_file(tmp_path, mirror):
    _, url = mirror  # serves an empty folder: 404
    cfg = _data("data=cifar10", f"data.root={tmp_path / 'c'}", "data.download=true", f"data.mirror={url}",
                "data.checksums={cifar-10-python.tar.gz:'md5:00'}")
    expected = r"could not download http://127\.0\.0\.1:\d+/cifar-10-python\.tar\.gz: HTTP 404"
    with pytest.raises(ConfigError, match=expected):
        load_splits(cfg, seed=0)


def test_truncated_gzip_is_caught_before_loading(tmp_path):
    write_idx(tmp_path)
    name = tmp_path / "t10k-images-idx3-ubyte.gz"
    name.write_bytes(gzip.compress(gzip.decompress(name.read_bytes())[:-100], mtime=0))
    expected = "t10k-images-idx3-ubyte.gz: 15596 bytes of data, but its header promises 15696"  # 20 images of 28x28
    with pytest.raises(ConfigError, match=expected):
        _data("data=mnist", f"data.root={tmp_path}")
