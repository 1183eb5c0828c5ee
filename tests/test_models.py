"""Model families on hand-made DataSpecs: output shapes per task, causality on causal data,
knobs that change the network (activation, norm, residual, bidirectional, positions), the
init schemes on recurrent and attention layers, and the clear errors for bad knobs.
Parametrised over the MODELS table: a new model is tested by adding it."""

from __future__ import annotations

import functools
import logging

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from dlrun.config.compose import compose
from dlrun.data.spec import DataSpec
from dlrun.recipe.init_schemes import apply_init
from dlrun.models.zoo import ACTIVATIONS, NORMS
from dlrun.models.zoo import MODELS, build_model, incompatibility
from dlrun.models.stems import MAX_AUTO_PATCHES, auto_patch_size
from dlrun.config.validate import ConfigError, validate

SPECS = {
    "vector-classification": DataSpec("vector", "classification", (5,), num_classes=3),
    "vector-regression": DataSpec("vector", "regression", (5,), target_dim=2),
    "image-classification": DataSpec("image", "classification", (1, 8, 8), num_classes=10),
    "rgb-classification": DataSpec("image", "classification", (3, 12, 12), num_classes=4),
    "tokens-classification": DataSpec("tokens", "classification", (8,), num_classes=2, vocab_size=4),
    "tokens-regression": DataSpec("tokens", "regression", (8,), target_dim=1, vocab_size=10),
    "tokens-sequence": DataSpec("tokens", "sequence", (8,), num_classes=6, vocab_size=6),
    "tokens-causal": DataSpec("tokens", "sequence", (10,), num_classes=7, vocab_size=7, causal=True),
}
SMALL = ["model.width=8", "model.depth=2"]


@functools.lru_cache(maxsize=None)
def composed_model(name):
    """The real composed model config (Hydra composition is the slow part: once per model)."""
    return compose([f"model={name}"]).model


def model_cfg(name, *overrides):
    """That config with knob overrides (`model.key=value`, Hydra's value syntax) merged in."""
    extra = ["model.heads=2"] if name == "transformer" else []
    dotlist = [item.removeprefix("model.") for item in [*SMALL, *extra, *overrides]]
    return OmegaConf.merge(composed_model(name), OmegaConf.from_dotlist(dotlist))


def accepts(name, spec) -> bool:
    entry = MODELS[name]
    return spec.modality in entry.modalities and spec.task in entry.tasks


def sample_inputs(spec, n=4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    if spec.modality == "tokens":
        return torch.randint(0, spec.vocab_size, (n, *spec.input_shape), generator=generator)
    return torch.randn((n, *spec.input_shape), generator=generator)


def expected_shape(spec, n=4):
    return (n, spec.input_shape[0], spec.num_classes) if spec.task == "sequence" else (n, spec.output_dim)


PAIRS = [(model, spec) for model in MODELS for spec in SPECS]


@pytest.mark.parametrize("name, spec_name", PAIRS)
def test_output_shape_per_task_or_a_clear_refusal(name, spec_name):
    spec = SPECS[spec_name]
    cfg = model_cfg(name)
    if not accepts(name, spec):
        with pytest.raises(ValueError, match=rf"model={name} cannot consume .*{spec.modality} input.*{name} accepts"):
            build_model(cfg, spec)
        return
    model = build_model(cfg, spec).eval()
    out = model(sample_inputs(spec))
    assert out.shape == expected_shape(spec) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


CAUSAL = [name for name in MODELS if accepts(name, SPECS["tokens-causal"])]


@pytest.mark.parametrize("name", CAUSAL)
def test_on_causal_data_no_output_sees_a_later_token(name):
    spec = SPECS["tokens-causal"]
    torch.manual_seed(0)
    model = build_model(model_cfg(name), spec).eval()
    tokens = sample_inputs(spec, n=2)
    changed = tokens.clone()
    cut = 6
    changed[:, cut:] = (changed[:, cut:] + 1) % spec.vocab_size  # every token from `cut` on differs
    before, after = model(tokens), model(changed)
    torch.testing.assert_close(before[:, :cut], after[:, :cut])  # the past is untouched
    assert (before[:, cut:] - after[:, cut:]).abs().amax() > 1e-4  # the present does see its token


def test_without_the_causal_flag_the_transformer_attends_to_later_tokens():
    spec = SPECS["tokens-sequence"]
    torch.manual_seed(0)
    model = build_model(model_cfg("transformer"), spec).eval()
    tokens = sample_inputs(spec, n=2)
    changed = tokens.clone()
    changed[:, -1] = (changed[:, -1] + 1) % spec.vocab_size
    assert (model(tokens)[:, 0] - model(changed)[:, 0]).abs().amax() > 1e-4


def _count(model, kinds):
    return sum(isinstance(module, kinds) for module in model.modules())


def test_resnet_without_skips_has_the_same_depth_and_parameters_but_computes_differently():
    spec = SPECS["rgb-classification"]
    torch.manual_seed(0)
    with_skips = build_model(model_cfg("resnet", "model.residual=true"), spec).eval()
    without = build_model(model_cfg("resnet", "model.residual=false"), spec).eval()
    shapes = lambda model: [(name, p.shape) for name, p in model.named_parameters()]  # noqa: E731
    assert shapes(with_skips) == shapes(without)
    assert _count(with_skips, nn.Conv2d) == _count(without, nn.Conv2d) == 1 + 2 * 3 * 2  # stem + stages*depth*2
    without.load_state_dict(with_skips.state_dict())  # same weights, strict: only the skips differ
    x = sample_inputs(spec)
    assert (with_skips(x) - without(x)).abs().amax() > 1e-4


@pytest.mark.parametrize("name", [name for name in MODELS if "activation" in composed_model(name)])
def test_the_activation_knob_builds_that_activation(name):
    from dlrun.base.options import load_object

    image, vector = SPECS["image-classification"], SPECS["vector-classification"]
    spec = image if accepts(name, image) else vector
    choices = ("tanh", "relu") if name == "rnn" else tuple(ACTIVATIONS)
    for choice in choices:
        model = build_model(model_cfg(name, f"model.activation={choice}"), spec)
        if name == "rnn":
            assert model.body.nonlinearity == choice
            continue
        kind = load_object(ACTIVATIONS[choice])
        others = tuple({load_object(path) for key, path in ACTIVATIONS.items() if key != choice})
        assert _count(model, kind) >= 2 and _count(model, others) == 0, (name, choice)


NORM_TYPES = {"batch": (nn.BatchNorm1d, nn.BatchNorm2d), "layer": (nn.LayerNorm, nn.GroupNorm)}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_norm_knob_builds_that_norm_and_trains_in_both_modes(name):
    spec = next(spec for spec in SPECS.values() if accepts(name, spec))
    for choice in NORMS:
        model = build_model(model_cfg(name, f"model.norm={choice}"), spec)
        for kind, types in NORM_TYPES.items():
            assert (_count(model, types) > 0) == (kind == choice), (name, choice, kind)
        out = model.train()(sample_inputs(spec))
        out.float().sum().backward()
        assert model.eval()(sample_inputs(spec)).shape == expected_shape(spec)


@pytest.mark.parametrize("name", list(MODELS))
def test_dropout_is_active_in_training_only(name):
    spec = next(spec for spec in SPECS.values() if accepts(name, spec))
    model = build_model(model_cfg(name, "model.dropout=0.5"), spec)
    x = sample_inputs(spec)
    torch.manual_seed(0)
    assert not torch.allclose(model.train()(x), model(x))
    torch.testing.assert_close(model.eval()(x), model(x))


def test_bidirectional_rnn_doubles_its_features_and_is_refused_on_causal_data():
    spec = SPECS["tokens-classification"]
    model = build_model(model_cfg("gru", "model.bidirectional=true"), spec)
    assert model.head.in_features == 2 * 8 and model(sample_inputs(spec)).shape == (4, 2)
    with pytest.raises(ValueError, match=r"model\.bidirectional=true: model=lstm .*next-token.*bidirectional=false"):
        build_model(model_cfg("lstm", "model.bidirectional=true"), SPECS["tokens-causal"])


def test_positions_learned_are_parameters_and_sinusoidal_are_fixed():
    spec = SPECS["tokens-sequence"]
    learned = build_model(model_cfg("transformer", "model.positions=learned"), spec)
    fixed = build_model(model_cfg("transformer", "model.positions=sinusoidal"), spec)
    assert learned.positions.table.requires_grad and learned.positions.table.shape == (8, 8)
    table = fixed.positions.table
    assert not isinstance(table, nn.Parameter) and "positions.table" not in fixed.state_dict()
    assert table[0, 0] == 0 and table[0, 1] == 1  # sin(0), cos(0)
    assert torch.allclose(table[3, 0], torch.sin(torch.tensor(3.0)))
    assert sum(p.numel() for p in learned.parameters()) - sum(p.numel() for p in fixed.parameters()) == 8 * 8


@pytest.mark.parametrize("height, width, size", [(8, 8, 4), (28, 28, 4), (32, 32, 4), (12, 12, 4), (9, 9, 3),
                                                 (6, 6, 3), (64, 64, 8), (8, 12, 4), (7, 5, 1)])
def test_auto_patch_size_keeps_the_sequence_short(height, width, size):
    assert auto_patch_size(height, width) == size
    assert (height // size) * (width // size) <= MAX_AUTO_PATCHES


def test_transformer_patches_and_feature_tokens_set_the_sequence_length():
    images = build_model(model_cfg("transformer", "model.patch_size=4"), SPECS["rgb-classification"])
    assert images.positions.table.shape[0] == 9  # (12/4)^2 patches
    vectors = build_model(model_cfg("transformer"), SPECS["vector-regression"])
    assert vectors.positions.table.shape[0] == 5  # one token per feature
    with pytest.raises(ValueError, match=r"model\.patch_size=5 does not divide the 12x12 images"):
        build_model(model_cfg("transformer", "model.patch_size=5"), SPECS["rgb-classification"])


def test_tcn_warns_when_its_receptive_field_is_shorter_than_the_sequence(caplog):
    spec = DataSpec("tokens", "classification", (40,), num_classes=2, vocab_size=3)
    with caplog.at_level(logging.WARNING, logger="dlrun"):
        build_model(model_cfg("tcn", "model.depth=2", "model.kernel_size=3"), spec)
    assert "sees 13 steps back" in caplog.text and "40 long" in caplog.text


def _rnn_init(name, *overrides):
    model = build_model(model_cfg(name, "model.width=16"), SPECS["tokens-sequence"])
    return apply_init(model, compose(list(overrides)).init)


@pytest.mark.parametrize("name, gates", [("lstm", 4), ("gru", 3), ("rnn", 1)])
def test_orthogonal_init_fills_the_recurrent_weights_gate_by_gate(name, gates):
    model = _rnn_init(name, "init=orthogonal")
    for layer in range(2):
        for gate in getattr(model.body, f"weight_hh_l{layer}").chunk(gates):
            torch.testing.assert_close(gate @ gate.T, torch.eye(16), atol=1e-5, rtol=0)
    assert all((bias == 0).all() for n, bias in model.named_parameters() if n.endswith("bias"))


def test_xavier_and_forget_bias_reach_the_lstm_and_the_attention():
    lstm = _rnn_init("lstm", "init=xavier", "init.forget_bias=1.0")
    for layer in range(2):
        bias = getattr(lstm.body, f"bias_ih_l{layer}").detach()
        assert (bias[16:32] == 1).all() and (bias[:16] == 0).all() and (bias[32:] == 0).all()
    torch.manual_seed(0)
    transformer = build_model(model_cfg("transformer", "model.width=64"), SPECS["tokens-sequence"])
    apply_init(transformer, compose(["init=xavier"]).init)
    for query_key_value in transformer.body[0].attention.in_proj_weight.chunk(3):  # (64, 64) each
        assert query_key_value.std().item() == pytest.approx((2 / (64 + 64)) ** 0.5, rel=0.1)


@pytest.mark.parametrize("overrides, message", [
    (["model=transformer", "model.heads=3"], r"model\.width=64 is not divisible by model\.heads=3"),
    (["model=rnn", "model.activation=gelu"], r"model\.activation='gelu': model=rnn .* tanh, relu"),
    (["model=transformer", "model.positions=rotary"],
     r"model\.positions='rotary': expected one of: learned, sinusoidal"),
    (["model=transformer", "model.patch_size=0"], r"model\.patch_size=0: expected 'auto' or an integer >= 1"),
    (["model=resnet", "model.residual=maybe"], r"model\.residual='maybe': expected true or false"),
    (["model=tcn", "model.kernel_size=1"], r"model\.kernel_size=1: expected an integer >= 2"),
    (["model=lstm", "model.bidirectional=2"], r"model\.bidirectional=2: expected true or false"),
    (["model=cnn", "model.depth=0"], r"model\.depth=0: expected an integer >= 1"),
])
def test_bad_model_knobs_are_rejected_before_anything_is_built(overrides, message):
    with pytest.raises(ConfigError, match=message):
        validate(compose(overrides))


def test_bidirectional_model_on_causal_data_is_refused_at_validation(tmp_path):
    text = tmp_path / "text.txt"
    text.write_text("abcdefgh " * 40)
    with pytest.raises(ConfigError, match=r"model\.bidirectional=true: model=lstm .* data=text .* must predict"):
        validate(compose(["model=lstm", "model.bidirectional=true", "data=text", f"data.path={text}", "data.seq_len=16"]))


def test_incompatibility_names_model_data_and_what_the_model_accepts():
    cfg = compose(["model=cnn"]).model
    message = incompatibility(cfg, "tokens", "sequence", "reverse")
    assert message == ("model=cnn cannot consume data=reverse (tokens input, sequence task); "
                       "cnn accepts image input for classification/regression tasks")
    assert incompatibility(cfg, "image", "classification", "digits") is None
