"""The members' networks called as one, on the same batch: (N, ...) -> (K, N, ...).

Each member keeps its own leaf parameters (the ones its optimizer groups update and its
checkpoint saves), so backward hands each member exactly its own gradient. Two ways to run
them, chosen by device:
- on a GPU, torch.func.vmap of functional_call over the members' parameters stacked along a
  new first dimension (the stack is part of the autograd graph): one kernel per layer for
  all members, where a small model's step is mostly launch overhead;
- on the CPU, each member's own forward in turn: a small model's step there is compute
  bound (measured: vmap, grouped bmm and the loop within noise of each other for the default
  MLP, 16 members), and the loop runs the very kernels of a single run, so each member's
  numbers equal its single run's bit for bit (vmap's batched matmul sums in another order:
  float32 differences of 1e-7 that a chaotic high-lr run grows over hundreds of steps).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class StackedMembers(nn.Module):
    def __init__(self, networks: list):
        super().__init__()
        self.members = nn.ModuleList(networks)
        # the structure functional_call runs; its own tensors are never used
        self.template = [copy.deepcopy(networks[0]).to("meta")]  # a list: not a submodule
        self.parameter_names = [name for name, _ in networks[0].named_parameters()]
        self.buffer_names = [name for name, _ in networks[0].named_buffers()]

    def __len__(self) -> int:
        return len(self.members)

    def _stacked(self) -> tuple:
        members = [dict(member.named_parameters()) for member in self.members]
        parameters = {name: torch.stack([own[name] for own in members]) for name in self.parameter_names}
        buffers = {}
        if self.buffer_names:
            owned = [dict(member.named_buffers()) for member in self.members]
            buffers = {name: torch.stack([own[name] for own in owned]) for name in self.buffer_names}
        return parameters, buffers

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, ...) -> (K, N, ...): every member's output on the same inputs."""
        if inputs.device.type == "cpu":
            return torch.stack([member(inputs) for member in self.members])
        return self.vectorised(inputs)

    def vectorised(self, inputs: torch.Tensor) -> torch.Tensor:
        template = self.template[0]
        template.train(self.training)
        parameters, buffers = self._stacked()

        def one(member_parameters, member_buffers, batch):
            return torch.func.functional_call(template, (member_parameters, member_buffers), (batch,))

        # randomness="different": each member draws its own dropout masks
        outputs = torch.func.vmap(one, in_dims=(0, 0, None), randomness="different")(parameters, buffers, inputs)
        if self.training and buffers:  # BatchNorm updated the stacked statistics in place: each member's own
            with torch.no_grad():
                for index, member in enumerate(self.members):
                    for name, own in member.named_buffers():
                        own.copy_(buffers[name][index])
        return outputs

    def member_parameters(self, index: int) -> list:
        return list(self.members[index].parameters())
