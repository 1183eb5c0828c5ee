"""The default dlrun experiment written by hand in plain PyTorch: the baseline of
benchmarks/startup.py's whole-process comparison.

Same job as `dlrun` with no overrides (conf/config.yaml and its defaults): scikit-learn's
digits scaled to [-1, 1], a seeded 70/15/15 split, MLP 64-256-256-10 (ReLU), Adam (lr 1e-3),
batch 64, 20 epochs, validation each epoch, the best model (lowest val loss) saved, a test of
it at the end, one thread. What a careful researcher writes without a framework: no logger,
no plots, no progress bar.

    python benchmarks/hand_script.py [OUT_DIR]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

EPOCHS, BATCH, LR, SEED, VAL_FRACTION, TEST_FRACTION = 20, 64, 1e-3, 0, 0.15, 0.15


def digits_splits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    inputs = torch.tensor(digits.images, dtype=torch.float32).reshape(-1, 64) / 8.0 - 1.0
    targets = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(inputs), generator=torch.Generator().manual_seed(SEED))
    n_val, n_test = round(len(inputs) * VAL_FRACTION), round(len(inputs) * TEST_FRACTION)
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return [(inputs[part], targets[part]) for part in (train, val, test)]


def evaluate(model, inputs, targets):
    model.eval()
    with torch.no_grad():
        logits = model(inputs)
    model.train()
    return F.cross_entropy(logits, targets).item(), (logits.argmax(1) == targets).float().mean().item()


def main(out_dir: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    (train_x, train_y), (val_x, val_y), (test_x, test_y) = digits_splits()
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    best_loss, best_path = float("inf"), out_dir / "best.pt"
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        for batch in torch.randperm(len(train_x)).split(BATCH):
            loss = F.cross_entropy(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val_loss, val_acc = evaluate(model, val_x, val_y)
        print(f"epoch {epoch + 1}/{EPOCHS}  train/loss {loss.item():.4f}  val/loss {val_loss:.4f}  val/acc {val_acc:.4f}")
        if val_loss < best_loss:
            best_loss = val_loss
            torch.save(model.state_dict(), best_path)
    model.load_state_dict(torch.load(best_path, weights_only=True))
    test_loss, test_acc = evaluate(model, test_x, test_y)
    print(f"test/loss {test_loss:.4f}  test/acc {test_acc:.4f}  ({time.perf_counter() - started:.2f} s training)")


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    main(out)
