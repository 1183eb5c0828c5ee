"""Algorithmic sequence tasks generated from the seed: copy, reverse, sort, parity, adding,
brackets. Inputs are token ids (N, T); targets follow each task's definition below.

Knobs: data.length (T of the task's own sequence), data.vocab (symbols), data.n_samples,
data.task where a task has two forms (parity: classification | sequence, adding:
regression | classification). Sequence targets of -100 (IGNORE) carry no label: the loss
skips them (cross-entropy's ignore_index).
"""

from __future__ import annotations

import torch

from dlrun.data.spec import IGNORE, DataSpec
from dlrun.data.splits import Splits, tensor_splits


def _symbols(cfg_data, generator):
    return torch.randint(0, cfg_data["vocab"], (cfg_data["n_samples"], cfg_data["length"]), generator=generator)


def copy(cfg_data, generator):
    """The copying-memory task: see L symbols, wait data.delay blanks, then at the GO mark
    and after it reproduce the symbols in order. Only the recall positions are scored."""
    vocab, length, delay = cfg_data["vocab"], cfg_data["length"], cfg_data["delay"]
    blank, go = vocab, vocab + 1
    symbols = _symbols(cfg_data, generator)  # (N, L)
    n = len(symbols)
    waiting = torch.full((n, delay), blank)
    recall = torch.cat([torch.full((n, 1), go), torch.full((n, length - 1), blank)], dim=1)
    inputs = torch.cat([symbols, waiting, recall], dim=1)  # (N, 2L + delay)
    targets = torch.cat([torch.full((n, length + delay), IGNORE), symbols], dim=1)
    spec = DataSpec("tokens", "sequence", (inputs.shape[1],), num_classes=vocab, vocab_size=vocab + 2)
    return inputs, targets, spec


def reverse(cfg_data, generator):
    """Target at position t is input position T-1-t."""
    symbols = _symbols(cfg_data, generator)
    spec = DataSpec("tokens", "sequence", (cfg_data["length"],), num_classes=cfg_data["vocab"],
                    vocab_size=cfg_data["vocab"])
    return symbols, symbols.flip(1), spec


def sort(cfg_data, generator):
    """Target is the input sorted ascending."""
    symbols = _symbols(cfg_data, generator)
    spec = DataSpec("tokens", "sequence", (cfg_data["length"],), num_classes=cfg_data["vocab"],
                    vocab_size=cfg_data["vocab"])
    return symbols, symbols.sort(dim=1).values, spec


def parity(cfg_data, generator):
    """Label: the parity of the sum of the tokens (for bits, their xor). task=sequence labels
    every position with the parity of the prefix up to it (the running xor)."""
    symbols = _symbols(cfg_data, generator)
    length, vocab = cfg_data["length"], cfg_data["vocab"]
    task = cfg_data["task"]
    labels = symbols.cumsum(1) % 2 if task == "sequence" else symbols.sum(1) % 2  # (N, T) or (N,)
    return symbols, labels, DataSpec("tokens", task, (length,), num_classes=2, vocab_size=vocab)


def adding(cfg_data, generator):
    """The adding problem (Hochreiter & Schmidhuber): values 0..vocab-1, one marked position in
    each half; token = value, or value + vocab when marked. regression: the sum of the two
    marked values scaled by 1/(vocab-1) (in [0, 2]); classification: the integer sum."""
    values = _symbols(cfg_data, generator)  # (N, L)
    n, length, vocab = *values.shape, cfg_data["vocab"]
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    marks = torch.zeros_like(values)
    rows = torch.arange(n)
    marks[rows, first] = 1
    marks[rows, second] = 1
    total = values[rows, first] + values[rows, second]  # (N,)
    inputs = values + vocab * marks
    if cfg_data["task"] == "classification":
        spec = DataSpec("tokens", "classification", (length,), num_classes=2 * vocab - 1, vocab_size=2 * vocab)
        return inputs, total, spec
    spec = DataSpec("tokens", "regression", (length,), target_dim=1, vocab_size=2 * vocab)
    return inputs, (total.float() / (vocab - 1)).unsqueeze(1), spec  # (N, 1)


def is_balanced(tokens) -> bool:
    """Bracket kind k opens with token 2k and closes with 2k+1; balanced = every close matches
    the innermost open bracket and nothing stays open."""
    stack = []
    for token in tokens:
        if token % 2 == 0:
            stack.append(token)
        elif not stack or stack.pop() != token - 1:
            return False
    return not stack


def _balanced_sequence(length: int, kinds: int, generator) -> list:
    """A random balanced sequence: open while there is room, close the innermost otherwise."""
    draws = torch.rand(length, generator=generator).tolist()
    picks = torch.randint(0, kinds, (length,), generator=generator).tolist()
    stack, tokens = [], []
    for step in range(length):
        remaining = length - step
        if stack and (len(stack) == remaining or draws[step] < 0.5):
            tokens.append(stack.pop() + 1)
        else:
            stack.append(2 * picks[step])
            tokens.append(stack[-1])
    return tokens


def brackets(cfg_data, generator):
    """Bracket matching with data.vocab kinds of bracket: half the samples balanced, half one
    substituted token away from balanced (hard negatives); the label is is_balanced()."""
    n, length, kinds = cfg_data["n_samples"], cfg_data["length"], cfg_data["vocab"]
    sequences = [_balanced_sequence(length, kinds, generator) for _ in range(n)]
    corrupt = torch.rand(n, generator=generator) < 0.5
    positions = torch.randint(0, length, (n,), generator=generator).tolist()
    shifts = torch.randint(1, 2 * kinds, (n,), generator=generator).tolist()
    for row in torch.nonzero(corrupt).flatten().tolist():
        place = positions[row]
        sequences[row][place] = (sequences[row][place] + shifts[row]) % (2 * kinds)
    labels = torch.tensor([int(is_balanced(tokens)) for tokens in sequences])
    spec = DataSpec("tokens", "classification", (length,), num_classes=2, vocab_size=2 * kinds)
    return torch.tensor(sequences), labels, spec


TASKS = {"copy": copy, "reverse": reverse, "sort": sort, "parity": parity, "adding": adding, "brackets": brackets}


def load(cfg_data, seed: int) -> Splits:
    generator = torch.Generator().manual_seed(seed)
    inputs, targets, spec = TASKS[cfg_data["name"]](cfg_data, generator)
    return tensor_splits(spec, inputs, targets, cfg_data, seed)
