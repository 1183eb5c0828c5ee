"""Quality on real tasks through the real run path (`dlrun.run`, values read back from
summary.json and the checkpoints): each model family learns what it should, on CPU, in
seconds. The recipes here are the README's numbers, and so are the defaults' accuracies."""

from __future__ import annotations

import pytest
import torch

import dlrun
from conftest import read_json
from dlrun.training.summary import read_summary
from dlrun.recipe.transfer import load_state_dict

pytestmark = pytest.mark.slow
QUIET = ["trainer.progress_bar=false", "schedule=cosine", "optim.lr=0.003"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small models on a shared 2-core machine run faster on one thread than on torch's pool."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(tmp_path, *overrides) -> dict:
    dlrun.run([*QUIET, *overrides], run_dir=tmp_path)
    summary = read_summary(tmp_path)  # checkpoint paths absolute, as the folder lies now
    assert summary["status"] == "completed", summary["error"]
    return summary


# `dlrun model=NAME` with nothing else (digits, adam, 20 epochs): test acc at seed 0 and 1 as
# measured for the README's table; the thresholds leave a margin under the lower one
DEFAULTS_MEASURED = {"mlp": (0.974, 0.959), "cnn": (0.996, 0.993), "resnet": (0.981, 0.981), "lstm": (0.989, 0.967),
                     "gru": (0.989, 0.970), "rnn": (0.978, 0.974), "tcn": (0.959, 0.944), "transformer": (0.967, 0.963)}


@pytest.mark.parametrize("model", sorted(DEFAULTS_MEASURED))
def test_every_model_default_gives_a_sound_result_on_the_default_data(tmp_path, model):
    dlrun.run([f"model={model}", "hardware.threads=1", "trainer.progress_bar=false"], run_dir=tmp_path)
    summary = read_json(tmp_path / "summary.json")
    assert summary["status"] == "completed", summary["error"]
    assert summary["test"]["test/acc"] >= (0.95 if model == "transformer" else 0.90), summary["test"]


def test_cnn_classifies_digits(tmp_path):
    summary = run(tmp_path, "model=cnn", "data=digits", "trainer.max_epochs=10")
    assert summary["test"]["test/acc"] >= 0.97  # measured 0.993 (270 test images)


def test_transformer_reverses_sequences_of_length_8(tmp_path):
    summary = run(tmp_path, "model=transformer", "model.depth=1", "data=reverse", "data.length=8",
                  "trainer.max_epochs=8")
    assert summary["spec"]["task"] == "sequence" and summary["spec"]["input_shape"] == [8]
    assert summary["test"]["test/acc"] >= 0.95  # per-token; measured 1.000 on seeds 0 and 1


def test_lstm_learns_parity_far_above_chance(tmp_path):
    summary = run(tmp_path, "model=lstm", "model.width=64", "data=parity", "data.length=8", "trainer.max_epochs=8")
    assert summary["spec"]["num_classes"] == 2
    assert summary["test"]["test/acc"] >= 0.9  # chance is 0.5; measured 1.000


def _conv_weights(state: dict) -> dict:
    return {name: tuple(tensor.shape) for name, tensor in state.items() if tensor.ndim == 4}


def test_resnet_without_skips_has_the_same_depth_and_parameters_and_degrades(tmp_path):
    """49 conv layers (depth 8 per stage): the same network with and without skip connections;
    after 60 steps the plain one is far behind (He et al.'s degradation problem)."""
    common = ["model=resnet", "model.depth=8", "data=digits", "trainer.max_epochs=3"]
    summaries, states = {}, {}
    for residual in ("true", "false"):
        summaries[residual] = run(tmp_path / residual, *common, f"model.residual={residual}")
        assert summaries[residual]["config"]["model"]["residual"] is (residual == "true")
        states[residual] = load_state_dict(summaries[residual]["last_checkpoint"])
    shapes = {key: {name: tuple(t.shape) for name, t in state.items()} for key, state in states.items()}
    assert shapes["true"] == shapes["false"]  # every parameter and buffer, name by name
    assert len(_conv_weights(states["true"])) == 1 + 2 * 3 * 8  # stem + stages * blocks * 2 convolutions
    with_skips, plain = summaries["true"]["test"]["test/acc"], summaries["false"]["test"]["test/acc"]
    assert with_skips >= 0.9  # measured 0.974 (seed 0) and 0.970 (seed 1)
    assert plain <= with_skips - 0.3  # measured 0.226 and 0.189
