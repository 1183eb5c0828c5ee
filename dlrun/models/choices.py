"""Names of the layer choices a model config may name, readable without torch."""

ACTIVATIONS = {
    "relu": "torch.nn:ReLU",
    "leaky_relu": "torch.nn:LeakyReLU",
    "elu": "torch.nn:ELU",
    "gelu": "torch.nn:GELU",
    "tanh": "torch.nn:Tanh",
    "sigmoid": "torch.nn:Sigmoid",
}
NORMS = ("none", "batch", "layer")
