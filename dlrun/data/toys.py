"""scikit-learn's 2-D toy problems (moons, circles) and Gaussian blobs: vector classification,
generated from the run's seed, features standardised with the train split's statistics."""

from __future__ import annotations

import torch

from dlrun.data.spec import DataSpec
from dlrun.data.splits import Splits, standardized, tensor_splits


def _moons(cfg_data, seed):
    from sklearn.datasets import make_moons

    return make_moons(cfg_data["n_samples"], noise=cfg_data["noise"], random_state=seed)


def _circles(cfg_data, seed):
    from sklearn.datasets import make_circles

    return make_circles(cfg_data["n_samples"], noise=cfg_data["noise"], factor=cfg_data["factor"], random_state=seed)


def _blobs(cfg_data, seed):
    from sklearn.datasets import make_blobs

    # data.noise is each blob's standard deviation (centres are drawn in a box of +-10)
    return make_blobs(cfg_data["n_samples"], n_features=cfg_data["n_features"], centers=cfg_data["centers"],
                      cluster_std=cfg_data["noise"], random_state=seed)


GENERATORS = {"moons": _moons, "circles": _circles, "blobs": _blobs}


def load(cfg_data, seed: int) -> Splits:
    features, labels = GENERATORS[cfg_data["name"]](cfg_data, seed)
    inputs = torch.tensor(features, dtype=torch.float32)  # (N, features)
    targets = torch.tensor(labels, dtype=torch.long)
    spec = DataSpec(modality="vector", task="classification", input_shape=(inputs.shape[1],),
                    num_classes=cfg_data.get("centers", 2))  # moons, circles: 2 classes
    return standardized(tensor_splits(spec, inputs, targets, cfg_data, seed))
