"""`dlrun predict RUN_DIR INPUTS` and `dlrun.load(RUN_DIR).predict(...)`: new inputs in the
raw scale a user has them, prepared by the input transform the checkpoint carries."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, heavy_imports_after, read_json, run_cli
from zoo_fixtures import class_images, write_idx, write_table, write_text

from dlrun.base.errors import BadInput
from dlrun.data.datasets import load_splits
from dlrun.data.inputs import model_inputs
from dlrun.data.spec import DataSpec
from dlrun.data.splits import split_indices
from dlrun.data.transform import InputTransform, affine, characters

DIGITS = DataSpec("image", "classification", (1, 8, 8), num_classes=10)


def _rows(path) -> list:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


TEST_BATCHES = 2  # TINY's trainer.limit_test_batches


def _train(tmp_path, name: str, *overrides) -> Path:
    run_dir = tmp_path / name
    result = run_cli([*TINY, *overrides, f"hydra.run.dir={run_dir}"], cwd=tmp_path)
    assert result.returncode == 0, result.output
    return run_dir


def _test_rows(run_dir, count: int):
    """Indices of the first `count` samples of the run's test split (the rows its test metrics read)."""
    config = read_json(run_dir / "summary.json")["config"]
    data = config["data"]
    return config, split_indices(1797, data["val_fraction"], data["test_fraction"], config["seed"])[2][:count].numpy()


# --- fast: the transform and the input files, without a model ---

def test_a_transform_survives_its_plain_dict_and_scales_as_the_loader_did():
    splits = load_splits({"name": "digits", "batch_size": 64, "val_fraction": 0.15, "test_fraction": 0.15}, seed=0)
    saved = InputTransform.from_dict(json.loads(json.dumps(splits.transform.to_dict())))
    assert saved == splits.transform == affine(8.0, 8.0)
    from sklearn.datasets import load_digits

    raw = load_digits().data  # (N, 64) pixels 0..16, as a user has them
    _, _, test = split_indices(len(raw), 0.15, 0.15, seed=0)
    prepared = model_inputs(raw[test.numpy()], DIGITS, saved)
    assert np.array_equal(prepared, splits.test[0].numpy())  # bit for bit the split the model was tested on


@pytest.mark.parametrize("in_memory", [True, False])
def test_published_images_in_raw_pixels_are_normalised_as_the_loader_did(tmp_path, in_memory):
    from dlrun.config.compose import compose

    write_idx(tmp_path, n_train=40, n_test=20)
    cfg_data = compose(["data=mnist", f"data.root={tmp_path}", f"data.in_memory={str(in_memory).lower()}"]).data
    splits = load_splits(cfg_data, seed=0)
    raw, _ = class_images(20, 1, 28, seed=len("test"))  # uint8 0..255, what write_idx wrote for the test split
    spec = DataSpec("image", "classification", (1, 28, 28), num_classes=10)
    prepared = model_inputs(raw, spec, InputTransform.from_dict(splits.transform.to_dict()))
    loaded = torch.stack([splits.test[i][0] for i in range(20)]) if not in_memory else splits.test[0]
    assert np.allclose(prepared, loaded.numpy(), atol=1e-5)


@pytest.mark.parametrize("array, message", [
    (np.zeros((3, 63)), "each input has 63 values (array shape (3, 63)); the run's model takes 64 (image (1, 8, 8))"),
    (np.full((2, 64), np.nan), "missing or non-finite"),
    (np.array([["a"] * 64]), "inputs must be numbers"),
])
def test_inputs_that_do_not_fit_the_run_say_why(array, message):
    with pytest.raises(BadInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        model_inputs(array, DIGITS, affine(8.0, 8.0))


def test_text_is_encoded_by_the_saved_vocabulary_and_unknown_characters_are_named():
    spec = DataSpec("tokens", "sequence", (12,), num_classes=4, vocab_size=4, causal=True)
    table = characters([" ", "a", "b", "c"])
    lines, ids = model_inputs(["cab a"], spec, table)
    assert lines == ["cab a"] and ids[0].tolist() == [3, 1, 2, 0, 1]
    with pytest.raises(BadInput, match="inputs line 1: character 'z' is not in the run's vocabulary"):
        model_inputs(["az"], spec, table)


def test_predict_command_lines_are_refused_before_torch_loads(tmp_path):
    heavy, codes, stderr = heavy_imports_after([["predict"], ["predict", "--help"], ["compare", "--help"]], tmp_path)
    assert "torch" not in heavy and "lightning" not in heavy
    assert codes == [2, 0, 0]
    assert "usage: dlrun predict RUN_DIR INPUTS" in stderr


# --- slow: real runs through the real command ---

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("predict"), "digits")


@pytest.mark.slow
def test_predict_on_raw_digits_reproduces_the_test_accuracy_and_the_model(digits_run, tmp_path):
    from sklearn.datasets import load_digits

    summary = read_json(digits_run / "summary.json")
    config, rows = _test_rows(digits_run, TEST_BATCHES * 64)
    assert config["data"]["batch_size"] == 64
    digits = load_digits()
    np.save(tmp_path / "new.npy", digits.data[rows])  # raw pixels 0..16, flat rows of 64
    result = run_cli(["predict", str(digits_run), str(tmp_path / "new.npy")], cwd=tmp_path)
    assert result.returncode == 0, result.output
    out = digits_run / "predict_best_new.csv"
    assert str(out) in result.stdout
    predicted = _rows(out)
    labels = np.array([int(row["prediction"]) for row in predicted])
    # the run's test metrics read these very rows (limit_test_batches batches of 64) with best.ckpt
    assert (labels == digits.target[rows]).mean() == pytest.approx(summary["test"]["test/acc"], abs=1e-6)
    for row in predicted:
        assert sum(float(row[f"p_{k}"]) for k in range(10)) == pytest.approx(1.0, abs=1e-5)
        assert int(row["prediction"]) == max(range(10), key=lambda k: float(row[f"p_{k}"]))
    # from Python: the same rows, and the network on the normalised test split agrees row by row
    model = __import__("dlrun").load(digits_run)
    assert [row["prediction"] for row in model.predict(digits.data[rows])] == labels.tolist()
    splits = load_splits(config["data"], config["seed"])
    with torch.no_grad():
        assert model.task(splits.test[0][: len(rows)]).argmax(-1).tolist() == labels.tolist()


@pytest.mark.slow
@pytest.mark.parametrize("name, content, message", [
    ("missing.npy", None, "missing.npy: no such inputs file"),
    ("rows.json", "[]", "inputs must be a .npy, .npz, .csv, .txt file, not '.json'"),
    ("short.csv", "1,2,3\n4,5,6\n", "each input has 3 values (array shape (2, 3)); the run's model takes 64"),
    ("words.txt", "hello\n", "this run takes image inputs"),
])
def test_bad_inputs_give_one_line_and_exit_2(digits_run, tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    result = run_cli(["predict", str(digits_run), name], cwd=tmp_path)
    assert result.returncode == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_checkpoint_without_an_input_transform_is_refused_in_one_line(digits_run, tmp_path):
    from dlrun.training.checkpoint_io import write_checkpoint

    content = torch.load(digits_run / "checkpoints" / "best.ckpt", weights_only=True)
    del content["hyper_parameters"]["transform"]  # as a checkpoint of an older dlrun
    write_checkpoint(content, tmp_path / "old.ckpt")
    np.save(tmp_path / "new.npy", np.zeros((2, 64)))
    result = run_cli(["predict", str(digits_run), "new.npy", f"ckpt={tmp_path / 'old.ckpt'}"], cwd=tmp_path)
    assert result.returncode == 2
    assert "written before dlrun kept the data's input transform" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.parametrize("model", ["gru", "transformer"])  # a transformer's mask is as long as its window
def test_predict_on_a_text_run_encodes_new_text_with_the_saved_vocabulary(tmp_path, model):
    corpus = write_text(tmp_path / "corpus.txt")
    vocabulary = sorted(set(corpus.read_text()))
    window = 12
    run_dir = _train(tmp_path, "text", "data=text", f"data.path={corpus}", f"data.seq_len={window}", f"model={model}")
    corpus.unlink()  # the checkpoint alone encodes new text
    prompts = ["the lazy do", "quick brown fox jumps over t"]  # shorter and longer than a window
    (tmp_path / "prompts.txt").write_text("\n".join(prompts) + "\n")
    result = run_cli(["predict", str(run_dir), "prompts.txt", f"out={tmp_path / 'next.csv'}"], cwd=tmp_path)
    assert result.returncode == 0, result.output
    rows = _rows(tmp_path / "next.csv")
    assert [row["input"] for row in rows] == prompts
    assert list(rows[0])[2:] == [f"p[{c}]" for c in vocabulary]
    task = __import__("dlrun").load(run_dir).task
    for prompt, row in zip(prompts, rows):
        ids = [vocabulary.index(c) for c in prompt[-window:]]  # the corpus's own encoding
        padded = torch.tensor([ids + [len(vocabulary) - 1] * (window - len(ids))])  # any padding after the text
        with torch.no_grad():
            expected = task(padded)[0, len(ids) - 1].softmax(-1)
        assert [float(row[f"p[{c}]"]) for c in vocabulary] == pytest.approx(expected.tolist(), abs=1e-6)
        assert row["prediction"] == vocabulary[int(expected.argmax())]
        assert sum(float(row[f"p[{c}]"]) for c in vocabulary) == pytest.approx(1.0, abs=1e-5)
    (tmp_path / "unknown.txt").write_text("the Zebra\n")
    refused = run_cli(["predict", str(run_dir), "unknown.txt"], cwd=tmp_path)
    assert refused.returncode == 2
    assert "unknown.txt line 1: character 'Z' is not in the run's vocabulary" in refused.stderr


@pytest.mark.slow
def test_predict_on_a_table_run_reads_columns_by_name_and_answers_in_its_labels(tmp_path):
    table = write_table(tmp_path / "table.csv")
    run_dir = _train(tmp_path, "table", "data=table", f"data.path={table}", "data.target=label")
    config = read_json(run_dir / "summary.json")["config"]
    lines = table.read_text().splitlines()
    shuffled = ["label,c,a,b"] + [f"{label},{c},{a},{b}" for a, b, c, label in (line.split(",") for line in lines[1:])]
    (tmp_path / "new.csv").write_text("\n".join(shuffled) + "\n")
    result = run_cli(["predict", str(run_dir), "new.csv", "ckpt=last"], cwd=tmp_path)
    assert result.returncode == 0, result.output
    rows = _rows(run_dir / "predict_last_new.csv")
    assert {row["prediction"] for row in rows} <= {"no", "yes"} and list(rows[0]) == ["prediction", "p_no", "p_yes"]
    # the model on the loader's standardised features gives the same classes
    splits = load_splits(config["data"], config["seed"])
    every = torch.cat([splits.train[0], splits.val[0], splits.test[0]])
    order = torch.cat([torch.as_tensor(i) for i in split_indices(len(rows), config["data"]["val_fraction"],
                                                                 config["data"]["test_fraction"], config["seed"])])
    task = __import__("dlrun").load(run_dir, ckpt="last").task
    with torch.no_grad():
        classes = task(every).argmax(-1).tolist()
    expected = {int(index): ("no", "yes")[label] for index, label in zip(order, classes)}
    assert [row["prediction"] for row in rows] == [expected[i] for i in range(len(rows))]
