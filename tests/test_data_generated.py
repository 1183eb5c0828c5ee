"""Generated data: every sequence task's targets against its definition, the toys, the kind
known from the config alone, seeded disjoint splits, and TensorBatches' sharding."""

from __future__ import annotations

import copy
import functools

import pytest
import torch

from dlrun.config.compose import compose
from dlrun.data.datasets import DATASETS, data_kind, load_splits
from dlrun.data.sequences import is_balanced
from dlrun.data.spec import IGNORE
from dlrun.data.splits import split_indices
from zoo_fixtures import DATASET_OVERRIDES, dataset_overrides


@functools.lru_cache(maxsize=None)
def _composed(name: str):
    return compose([f"data={name}"]).data


def _data(*overrides):
    """The real composed data config (one composition per dataset), with `data.KEY=VALUE` overrides."""
    first, *knobs = overrides
    cfg = copy.deepcopy(_composed(first.split("=", 1)[1]))
    for knob in knobs:
        key, value = knob.split("=", 1)
        cfg[key.removeprefix("data.")] = value if not value.lstrip("-").replace(".", "", 1).isdigit() else \
            (float(value) if "." in value else int(value))
    return cfg


def _all(splits):
    """(inputs, targets) of train, val and test together."""
    parts = (splits.train, splits.val, splits.test)
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])


def test_every_dataset_has_test_overrides():
    assert set(DATASET_OVERRIDES) == set(DATASETS)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_kind_from_config_matches_loaded_spec(name, tmp_path):
    """Validation decides model/data fit from the config alone: it must agree with the data."""
    cfg = compose(dataset_overrides(name, tmp_path)).data
    spec = load_splits(cfg, seed=0).spec
    assert data_kind(cfg) == (spec.modality, spec.task)


@pytest.mark.parametrize("overrides", [["data=parity", "data.task=sequence"],
                                       ["data=adding", "data.task=classification"]])
def test_task_switch_changes_kind_and_spec(overrides):
    cfg = _data(*overrides, "data.n_samples=40")
    spec = load_splits(cfg, 0).spec
    assert data_kind(cfg)[1] == spec.task == overrides[1].split("=")[1]


def test_reverse_and_sort_targets():
    inputs, targets = _all(load_splits(_data("data=reverse", "data.n_samples=200"), 1))
    assert torch.equal(targets, inputs.flip(1))
    inputs, targets = _all(load_splits(_data("data=sort", "data.n_samples=200"), 1))
    assert torch.equal(targets, torch.sort(inputs, dim=1).values)
    assert (targets[:, 1:] >= targets[:, :-1]).all() and not torch.equal(inputs, targets)


def test_copy_recalls_symbols_after_the_delay():
    cfg = _data("data=copy", "data.length=5", "data.delay=3", "data.vocab=6", "data.n_samples=100")
    splits = load_splits(cfg, 0)
    inputs, targets = _all(splits)
    assert inputs.shape[1] == 2 * 5 + 3 and splits.spec.vocab_size == 8 and splits.spec.num_classes == 6
    assert (targets[:, :8] == IGNORE).all()  # the symbols and the wait are not scored
    assert torch.equal(targets[:, 8:], inputs[:, :5])  # recall = the symbols, in order
    assert (inputs[:, 5:8] == 6).all() and (inputs[:, 8] == 7).all()  # blanks, then the recall cue


def test_parity_is_the_xor():
    inputs, labels = _all(load_splits(_data("data=parity", "data.length=12", "data.n_samples=300"), 2))
    xor = torch.zeros(len(inputs), dtype=torch.long)
    for position in range(inputs.shape[1]):
        xor = xor ^ inputs[:, position]
    assert torch.equal(labels, xor) and 0.3 < labels.float().mean() < 0.7
    inputs, running = _all(load_splits(_data("data=parity", "data.task=sequence", "data.n_samples=300"), 2))
    assert torch.equal(running[:, -1], inputs.sum(1) % 2) and torch.equal(running[:, 0], inputs[:, 0])


def test_adding_is_the_sum_of_the_marked_numbers():
    vocab = 7
    cfg = _data("data=adding", "data.length=10", f"data.vocab={vocab}", "data.n_samples=200")
    inputs, targets = _all(load_splits(cfg, 3))
    marked = inputs >= vocab
    assert (marked.sum(1) == 2).all() and marked[:, :5].any(1).all() and marked[:, 5:].any(1).all()
    expected = (inputs * marked).remainder(vocab).sum(1).float() / (vocab - 1)
    assert torch.allclose(targets.squeeze(1), expected)
    inputs, classes = _all(load_splits(_data("data=adding", "data.task=classification", "data.n_samples=200"), 3))
    assert torch.equal(classes, (inputs * (inputs >= 10)).remainder(10).sum(1))


def test_brackets_labels_are_balance():
    cfg = _data("data=brackets", "data.length=10", "data.vocab=2", "data.n_samples=400")
    inputs, labels = _all(load_splits(cfg, 4))

    def balanced(tokens):  # independent check: a counter per kind and an order check via a stack
        stack = []
        for token in tokens:
            kind, opening = divmod(token, 2)
            if opening == 0:
                stack.append(kind)
            elif not stack or stack.pop() != kind:
                return False
        return not stack

    assert [int(balanced(row)) for row in inputs.tolist()] == labels.tolist()
    assert 0.35 < labels.float().mean() < 0.65  # both classes, about half each
    assert is_balanced([0, 2, 3, 1]) and not is_balanced([0, 2, 1, 3]) and not is_balanced([1, 0])


def test_sequence_data_follows_the_seed():
    first, again, other = (_all(load_splits(_data("data=reverse", "data.n_samples=50"), seed)) for seed in (5, 5, 6))
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], other[0])


@pytest.mark.parametrize("name", ["moons", "circles", "blobs"])
def test_toys_are_standardised_with_train_statistics(name):
    splits = load_splits(_data(f"data={name}", "data.n_samples=300", "data.noise=0.1"), 0)
    train = splits.train[0]
    assert torch.allclose(train.mean(0), torch.zeros(train.shape[1]), atol=1e-5)
    assert torch.allclose(train.std(0), torch.ones(train.shape[1]), atol=1e-4)
    assert not torch.allclose(splits.test[0].mean(0), torch.zeros(train.shape[1]), atol=1e-5)  # not refitted on test
    classes = splits.spec.num_classes
    assert classes == (4 if name == "blobs" else 2) and set(splits.train[1].tolist()) == set(range(classes))


def test_splits_are_seeded_disjoint_and_complete():
    train, val, test = split_indices(100, 0.2, 0.1, seed=7)
    assert (len(train), len(val), len(test)) == (70, 20, 10)
    assert sorted(torch.cat([train, val, test]).tolist()) == list(range(100))
    again = split_indices(100, 0.2, 0.1, seed=7)
    assert all(torch.equal(a, b) for a, b in zip((train, val, test), again))
    assert not torch.equal(split_indices(100, 0.2, 0.1, seed=8)[0], train)


def test_loaded_splits_do_not_share_samples():
    splits = load_splits(_data("data=moons", "data.n_samples=200"), 0)
    rows = [{tuple(row) for row in part[0].tolist()} for part in (splits.train, splits.val, splits.test)]
    assert sum(map(len, rows)) == 200 and not (rows[0] & rows[1] or rows[0] & rows[2] or rows[1] & rows[2])


@pytest.mark.parametrize("n, batch_size, world_size, batches",
                         [(10, 4, 4, 2), (11, 4, 2, 3), (8, 4, 4, 2), (9, 4, 1, 3)])
def test_tensor_batches_shard_and_skip_a_tail_smaller_than_the_world(n, batch_size, world_size, batches):
    """Under DDP every rank yields its share of the same global batches; a tail with fewer
    samples than ranks would give some rank an empty batch (NaN loss), so it is skipped."""
    from dlrun.data.loaders import TensorBatches

    inputs = torch.arange(n)
    ranks = [list(TensorBatches(inputs, inputs, batch_size, shuffle=True, seed=3, rank=rank, world_size=world_size))
             for rank in range(world_size)]
    assert all(len(per_rank) == batches == len(TensorBatches(inputs, inputs, batch_size, True, world_size=world_size))
               for per_rank in ranks)
    for step in range(batches):
        shards = [ranks[rank][step][0] for rank in range(world_size)]
        assert all(len(shard) > 0 for shard in shards)
        together = torch.cat(shards).tolist()
        assert len(together) == len(set(together)) <= batch_size
    seen = {value for per_rank in ranks for x, _ in per_rank for value in x.tolist()}
    assert len(seen) == min(n, batches * batch_size)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_preloaded_tensors_move_to_the_training_gpu_once():
    from types import SimpleNamespace

    from dlrun.data.module import DataModule

    module = DataModule(_data("data=moons", "data.n_samples=200"), seed=0)
    module.setup()
    module.trainer = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cuda", 0)), global_rank=0,
                                     world_size=1, current_epoch=0)
    first, second = module.val_dataloader(), module.val_dataloader()
    assert first.inputs.is_cuda and first.inputs.data_ptr() == second.inputs.data_ptr()  # moved once, then reused
    inputs, targets = next(iter(first))
    assert inputs.is_cuda and targets.is_cuda
