"""A population that continues after a kill: each member's last.ckpt holds everything its
part of the population needs to go on, and a population of their retries starts from them.

Saving: the population's Trainer saves its own last.ckpt as a single run's does (the
Resumable callback: at the start, at epoch ends past `last_min_interval_s`, on a signal or a
failure); the PopulationModule then splits that checkpoint (on_save_checkpoint) into one per
member, written to the member's checkpoints/last.ckpt with its .sha256 sidecar: the member's
weights (a single run's layout: `dlrun eval` reads it), its slice of the optimizer's parameter
groups and state and of the lr schedule, Lightning's loop progress and callback states (the
random states among them), and the member's own record (its metric rows so far, its best
weights, divergence guard, pruning rounds, status).

Resuming: a sweep queues an interrupted trial's point again as a new trial (its retry); when
the retries of members of one killed population train together again, `combined_checkpoint`
puts their last.ckpt files back into one population checkpoint, and the Trainer resumes from
it (`ckpt_path`) at the saved step: no step is trained twice and metrics.csv has each step
once. Members that start fresh, or that resume from another step, train as another population.
"""

from __future__ import annotations

import copy
from pathlib import Path

from dlrun.recipe.transfer import TASK_MODEL_PREFIX

MEMBER_STATE = "population_member"  # the member's own record in its last.ckpt
NETWORK_PREFIX = "population.members."  # PopulationModule's state_dict: population.members.<index>.<name>
_OWN_KEYS = ("state_dict", "optimizer_states", "lr_schedulers", "hyper_parameters", "hparams_name")


def member_state(member) -> dict:
    """What a member has recorded so far, as plain data and tensors (torch.load weights_only reads it)."""
    guard = member.guard
    return {"rows": [dict(row) for row in member.history.rows], "best": member.best, "status": member.status,
            "stopped_at": member.stopped_at, "rounds": member.rounds, "error": member.summary.get("error"),
            "first_loss": guard.first_loss, "last_finite": guard.last_finite, "source": str(member.run_dir)}


def restore_member(member, state: dict, path) -> None:
    member.history.rows = [dict(row) for row in state["rows"]]
    member.best = tuple(state["best"]) if state["best"] is not None else None
    member.status, member.rounds = state["status"], state["rounds"]
    member.stopped_at = tuple(state["stopped_at"]) if state["stopped_at"] is not None else None
    if state["error"]:
        member.summary["error"] = state["error"]
    member.guard.first_loss = state["first_loss"]
    member.guard.last_finite = tuple(state["last_finite"]) if state["last_finite"] is not None else None
    member.summary["resumed_from"] = str(path)


def slice_optimizer(optimizer_state: dict, groups: list) -> dict:
    """The optimizer state of parameter groups `groups` (indices), its parameters numbered from 0."""
    sliced, state, number = [], {}, 0
    for index in groups:
        group = copy.copy(optimizer_state["param_groups"][index])
        renumbered = []
        for parameter in group["params"]:
            if parameter in optimizer_state["state"]:
                state[number] = optimizer_state["state"][parameter]
            renumbered.append(number)
            number += 1
        group["params"] = renumbered
        sliced.append(group)
    return {"state": state, "param_groups": sliced}


def join_optimizers(states: list) -> dict:
    joined, groups, offset = {}, [], 0
    for state in states:
        for group in state["param_groups"]:
            groups.append({**group, "params": [parameter + offset for parameter in group["params"]]})
        joined.update({parameter + offset: value for parameter, value in state["state"].items()})
        offset += sum(len(group["params"]) for group in state["param_groups"])
    return {"state": joined, "param_groups": groups}


def slice_scheduler(scheduler_state: dict, groups: list, total: int) -> dict:
    """A per-group schedule's state (LambdaLR: base_lrs, _last_lr, lr_lambdas per group) for `groups`."""
    return {key: [value[index] for index in groups] if isinstance(value, list) and len(value) == total else value
            for key, value in scheduler_state.items()}


def join_schedulers(states: list) -> dict:
    joined = dict(states[0])
    for key, value in states[0].items():
        if isinstance(value, list):
            joined[key] = [item for state in states for item in state[key]]
    return joined


def member_checkpoints(checkpoint: dict, members: list, networks: list, owners: list, population: str) -> list:
    """The population's Lightning checkpoint split into one per member (see the module's text).
    `owners`: the member owning each optimizer parameter group; `population`: its Trainer's folder."""
    shared = {key: value for key, value in checkpoint.items() if key not in _OWN_KEYS}
    total = len(owners)
    split = []
    for member, network in zip(members, networks):
        groups = [group for group, owner in enumerate(owners) if owner == member.index]
        weights = {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}
        own = member.weights_checkpoint(weights, checkpoint["global_step"], checkpoint["epoch"])
        own.update(shared)
        own["population"] = population
        own["optimizer_states"] = [slice_optimizer(state, groups) for state in checkpoint.get("optimizer_states", [])]
        own["lr_schedulers"] = [slice_scheduler(state, groups, total) for state in checkpoint.get("lr_schedulers", [])]
        own[MEMBER_STATE] = member_state(member)
        split.append(own)
    return split


def combined_checkpoint(checkpoints: list) -> dict:
    """Members' last.ckpt files (read, in member order) as one population checkpoint to resume from."""
    combined = {key: value for key, value in checkpoints[0].items() if key not in _OWN_KEYS + (MEMBER_STATE,)}
    combined["state_dict"] = {f"{NETWORK_PREFIX}{index}.{name[len(TASK_MODEL_PREFIX):]}": tensor
                              for index, checkpoint in enumerate(checkpoints)
                              for name, tensor in checkpoint["state_dict"].items()}
    combined["optimizer_states"] = [join_optimizers([checkpoint["optimizer_states"][0] for checkpoint in checkpoints])]
    schedulers = [checkpoint["lr_schedulers"] for checkpoint in checkpoints]
    combined["lr_schedulers"] = [join_schedulers([listed[0] for listed in schedulers])] if all(schedulers) else []
    return combined


def resume_point(path) -> tuple | None:
    """(the population it was saved by, its step) of a member's last.ckpt that can be resumed, or None.
    Members resume together only from one population's checkpoint at one step."""
    from dlrun.recipe.transfer import read_weights_only

    path = Path(path)
    if not path.is_file():
        return None
    try:
        checkpoint = read_weights_only(path)
    except Exception:  # a corrupt or foreign file: the member starts afresh, as a retry always did
        return None
    state = checkpoint.get(MEMBER_STATE)
    if state is None or "optimizer_states" not in checkpoint:
        return None
    return checkpoint.get("population"), int(checkpoint["global_step"])
