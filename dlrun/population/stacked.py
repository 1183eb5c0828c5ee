"""The members' networks called as one: every step their parameters are stacked along a new
first dimension and one torch.func.vmap of functional_call runs all members on the same
batch. Each member keeps its own leaf parameters (the ones its optimizer group updates and
its checkpoint saves), so a member's update is exactly the single-run update; the stack is
part of the autograd graph, so backward hands each member its own gradient.
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
        template = self.template[0]
        template.train(self.training)
        parameters, buffers = self._stacked()

        def one(member_parameters, member_buffers, batch):
            return torch.func.functional_call(template, (member_parameters, member_buffers), (batch,))

        # randomness="different": each member draws its own dropout masks
        return torch.func.vmap(one, in_dims=(0, 0, None), randomness="different")(parameters, buffers, inputs)

    def member_parameters(self, index: int) -> list:
        return list(self.members[index].parameters())
