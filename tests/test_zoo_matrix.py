"""Every model on every dataset, read from the registries at collection time: a new model
or dataset joins the matrix by being registered.

A compatible pair builds from the real composed configs and the real DataSpec, and overfits
one small fixed batch from the real dataset loader (the TaskModule's own loss falls well
below its start). An incompatible pair is refused by validation with the one message that
names both and what the model accepts. A few pairs run the whole path (`dlrun.run`, and the
real `dlrun` CLI in a subprocess).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import pytest
import torch
from omegaconf import OmegaConf

from conftest import TINY, only_run_dir, read_json
from dlrun.config.compose import compose, without_hydra
from dlrun.data.datasets import DATASETS, data_kind
from dlrun.models.zoo import MODELS, build_model, incompatibility
from dlrun.config.validate import ConfigError, validate
from zoo_fixtures import dataset_overrides

PAIRS = [(model, data) for model in MODELS for data in DATASETS]
# small widths keep the 100+ pairs fast; depths stay the configs' own (a TCN needs its depth
# to see a whole sequence); the transformer's 4 heads divide 16
SMALL_MODEL = {"width": 16}
BATCH = 16  # samples in the batch to overfit
MAX_STEPS = 150
OVERFIT_RATIO = 0.3  # "well below its start": the loss must fall under 30% of its first value


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Steps of these tiny models are a few small kernels: on a busy 2-core machine torch's
    thread pool costs more than it gives (gru on copy: 5.7 s with the default threads, 0.2 s
    with one, measured here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo_data")


@functools.lru_cache(maxsize=None)
def _composed_model(name: str) -> dict:
    return {**OmegaConf.to_container(compose([f"model={name}"]).model), **SMALL_MODEL}


def overrides_for(data: str, folder) -> list:
    """The dataset's test overrides; its files (if any) are written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    return dataset_overrides(data, folder)


_DATA_CACHE: dict = {}


def data_config(name: str, root) -> dict:
    """The whole experiment config (plain dict) for this dataset, composed once."""
    if name not in _DATA_CACHE:
        overrides = overrides_for(name, root / name)
        _DATA_CACHE[name] = OmegaConf.to_container(without_hydra(compose(overrides)))
    return _DATA_CACHE[name]


def pair_config(model: str, data: str, root) -> dict:
    return {**data_config(data, root), "model": dict(_composed_model(model))}


def compatible(model: str, data: str, root) -> bool:
    modality, task = data_kind(data_config(data, root)["data"])
    return incompatibility(_composed_model(model), modality, task, data) is None


_BATCHES: dict = {}


def fixed_batch(data: str, root):
    """(spec, inputs, targets): the first BATCH samples the real train loader serves."""
    if data not in _BATCHES:
        from dlrun.data.module import DataModule

        cfg = data_config(data, root)
        module = DataModule(OmegaConf.create(cfg["data"]), cfg["seed"])
        module.setup("fit")
        inputs, targets = next(iter(module.train_dataloader()))
        _BATCHES[data] = (module.spec, inputs[:BATCH], targets[:BATCH])
    return _BATCHES[data]


def overfit(model_name: str, data: str, root) -> tuple:
    """(first loss, lowest loss) over at most MAX_STEPS Adam steps on one fixed batch, measured
    with the TaskModule's own loss (the one a run trains on, ignored positions included)."""
    from dlrun.recipe.init_schemes import apply_init
    from dlrun.training.task import TaskModule

    cfg = OmegaConf.create(pair_config(model_name, data, root))
    spec, inputs, targets = fixed_batch(data, root)
    torch.manual_seed(0)
    model = apply_init(build_model(cfg.model, spec), cfg.init)
    task = TaskModule(model, spec, cfg.optim, cfg.schedule).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(MAX_STEPS):
        loss = task._losses_and_metrics(model(inputs), targets)["loss"]
        losses.append(loss.item())
        if losses[-1] < 0.5 * OVERFIT_RATIO * losses[0]:  # comfortably past the bar: save the steps
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return losses[0], min(losses)


@pytest.mark.parametrize("model, data", PAIRS, ids=[f"{m}-{d}" for m, d in PAIRS])
def test_pair_overfits_one_batch_or_is_refused_clearly(model, data, data_root):
    cfg = pair_config(model, data, data_root)
    if not compatible(model, data, data_root):
        with pytest.raises(ConfigError) as error:
            validate(cfg)
        message = str(error.value)
        accepts = "/".join(sorted(MODELS[model].modalities))
        assert f"model={model} cannot consume data={data}" in message and f"{model} accepts {accepts} input" in message
        return
    validate(cfg)
    first, best = overfit(model, data, data_root)
    assert best < OVERFIT_RATIO * first, f"{model} on {data}: loss {first:.4f} -> {best:.4f}"


def test_the_matrix_has_both_kinds_of_pair(data_root):
    """Guards the parametrisation: every model consumes something and most refuse something."""
    for model in MODELS:
        assert any(compatible(model, data, data_root) for data in DATASETS), model
    refused = [(m, d) for m, d in PAIRS if not compatible(m, d, data_root)]
    assert {m for m, _ in refused} >= {"cnn", "resnet"}


def test_cli_validate_refuses_an_incompatible_pair_before_importing_torch(tmp_path):
    """`dlrun validate model=X data=Y`: exit 2, the message on stderr, no torch or lightning loaded."""
    model, data = next((m, d) for m, d in PAIRS if not compatible(m, d, tmp_path / "probe"))
    argv = ["validate", f"model={model}", *overrides_for(data, tmp_path / "files")]
    probe = (
        "import sys\n"
        "from dlrun.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as exit:\n"
        "    print('EXIT', exit.code)\n"
        "print('HEAVY', sorted(m for m in ('torch', 'lightning') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert "EXIT 2" in result.stdout and "HEAVY []" in result.stdout, result.stdout + result.stderr
    assert f"model={model} cannot consume data={data}" in result.stderr


# one real run per model family, each on a different kind of data it accepts, some with an
# init scheme that fills recurrent / attention / conv weights its own way
RUNS = [("cnn", "digits", ["init=kaiming"]), ("resnet", "digits", []),
        ("lstm", "parity", ["init=orthogonal", "init.forget_bias=chrono"]), ("gru", "reverse", ["init=xavier"]),
        ("rnn", "adding", []), ("transformer", "moons", ["init=xavier"]), ("tcn", "brackets", ["init=lecun"]),
        ("mlp", "text", [])]


@pytest.mark.slow
@pytest.mark.parametrize("model, data, extra", RUNS, ids=[f"{m}-{d}" for m, d, _ in RUNS])
def test_a_real_run_completes_with_the_data_spec_in_its_summary(model, data, extra, tmp_path):
    import dlrun

    overrides = [f"model={model}", *overrides_for(data, tmp_path / "files"), *TINY, *extra,
                 *[f"model.{key}={value}" for key, value in SMALL_MODEL.items()]]
    dlrun.run(overrides, run_dir=tmp_path / "run")
    summary = read_json(tmp_path / "run" / "summary.json")
    assert summary["status"] == "completed", summary.get("error")
    spec = fixed_batch(data, tmp_path / "spec")[0]
    assert summary["spec"] == json.loads(json.dumps(spec.to_dict()))
    assert summary["config"]["model"]["name"] == model
    assert summary["config"]["init"]["name"] == next((o.split("=")[1] for o in extra if o.startswith("init=")), "default")
    assert "has no effect" not in (tmp_path / "run" / "run.log").read_text()  # e.g. a forget bias without an LSTM
    metric = "test/mae" if spec.task == "regression" else "test/acc"
    assert 0 <= summary["test"][metric] < float("inf")


@pytest.mark.slow
def test_the_cli_trains_a_transformer_on_tokens(cli, tmp_path):
    data = "reverse"
    result = cli("model=transformer", "model.width=16", *overrides_for(data, tmp_path / "files"), *TINY)
    assert result.returncode == 0, result.output
    summary = read_json(only_run_dir(tmp_path / "outputs") / "summary.json")
    assert summary["status"] == "completed"
    assert summary["config"]["model"]["name"] == "transformer" and summary["config"]["data"]["name"] == data
    assert summary["spec"]["modality"] == ("tokens" if data == "reverse" else "image")
