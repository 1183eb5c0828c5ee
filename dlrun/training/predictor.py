"""A run's trained model on new inputs: `dlrun predict` and `dlrun.load(RUN_DIR).predict(...)`.

The checkpoint is found, verified (its SHA-256 sidecar) and read as `dlrun eval` reads it
(dlrun.training.checkpoint_choice); its hyperparameters rebuild the network (TaskModule) and
carry the data's InputTransform, so new raw inputs are prepared exactly as the training data
was, without the original data. Predictions come back as rows (one dict per input):

    classification  prediction (the class, a table's own label), p_CLASS per class (sum 1)
    regression      prediction (prediction_0.. for several targets)
    text            input, prediction (the next character), p[CHAR] per character
    sequence        prediction: the label per position, space-separated
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from dlrun.base import atomic
from dlrun.base.errors import CheckpointError
from dlrun.data.inputs import model_inputs, reads_text
from dlrun.data.transform import InputTransform
from dlrun.training.checkpoint_choice import check_fits, checkpoint_file, read_checkpoint

BATCH = 1024  # inputs per forward pass


def saved_transform(content: dict, path) -> InputTransform:
    saved = (content.get("hyper_parameters") or {}).get("transform")
    if not saved:
        raise CheckpointError(f"{path}: this checkpoint was written before dlrun kept the data's input transform "
                              "(scaling, vocabulary) in checkpoints, so new inputs cannot be prepared for it; "
                              "train the run again with the same command to predict with it")
    return InputTransform.from_dict(dict(saved))


class TrainedModel:
    """A run's network from one checkpoint (best, last or a path), in eval mode on the CPU."""

    def __init__(self, run_dir, ckpt: str = "best"):
        from dlrun.training.task import TaskModule

        self.run_dir = Path(run_dir)
        self.checkpoint = checkpoint_file(self.run_dir, ckpt)
        content = read_checkpoint(self.checkpoint)
        self.transform = saved_transform(content, self.checkpoint)
        saved = content["hyper_parameters"]
        task = TaskModule(spec=dict(saved["spec"]), config=dict(saved["config"]))
        check_fits(content, task.model, self.checkpoint)
        task.load_state_dict(content["state_dict"])
        self.task, self.spec = task.eval(), task.spec

    def predict(self, inputs) -> list:
        """Rows (dicts) for `inputs`: a .npy/.npz/.csv/.txt path, an array of raw values, or
        for a text run a list of strings. BadInput (one line) when they do not fit the run."""
        prepared = model_inputs(Path(inputs) if isinstance(inputs, str) else inputs, self.spec, self.transform)
        if reads_text(self.spec, self.transform):
            return self._next_characters(*prepared)
        return [row for start in range(0, len(prepared), BATCH) for row in self._rows(prepared[start:start + BATCH])]

    def _outputs(self, batch):
        import torch

        with torch.no_grad():
            return self.task(torch.from_numpy(batch)).float()

    def _rows(self, batch) -> list:
        outputs = self._outputs(batch)
        if self.spec.task == "regression":
            values = outputs.reshape(len(batch), -1).tolist()  # (N, target_dim)
            return [{"prediction": v[0]} if len(v) == 1 else {f"prediction_{i}": x for i, x in enumerate(v)}
                    for v in values]
        if self.spec.task == "sequence":  # (N, T, classes): a label per position
            return [{"prediction": " ".join(map(str, labels))} for labels in outputs.argmax(-1).tolist()]
        return self._class_rows(outputs.softmax(-1).tolist(), self.transform.classes or range(self.spec.num_classes),
                                lambda label: f"p_{label}")

    def _next_characters(self, lines: list, encoded: list) -> list:
        """The next character after each text: its last window of characters, right-padded to
        the window the model trained on (a transformer's mask is that long); a causal model's
        output at the text's last position never sees the padding after it."""
        import numpy as np

        window = self.spec.input_shape[0]
        last = []
        for start in range(0, len(encoded), BATCH):
            chunk = [ids[-window:] for ids in encoded[start:start + BATCH]]
            batch = np.zeros((len(chunk), window), dtype=np.int64)  # (N, T)
            for row, ids in enumerate(chunk):
                batch[row, :len(ids)] = ids
            outputs = self._outputs(batch)  # (N, T, V)
            ends = [len(ids) - 1 for ids in chunk]
            last += outputs[range(len(chunk)), ends].softmax(-1).tolist()  # (N, V)
        rows = self._class_rows(last, self.transform.characters, lambda c: f"p[{json.dumps(c)[1:-1]}]")
        return [{"input": line, **row} for line, row in zip(lines, rows)]

    @staticmethod
    def _class_rows(probabilities: list, labels, column) -> list:
        labels = list(labels)
        return [{"prediction": labels[max(range(len(p)), key=p.__getitem__)],
                 **{column(label): value for label, value in zip(labels, p)}} for p in probabilities]


def write_rows(rows: list, path) -> Path:
    """The rows as a CSV (written whole or not at all)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic.replacing(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
