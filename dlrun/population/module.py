"""PopulationModule: the LightningModule of a population. One Lightning Trainer runs it like
any TaskModule; every step computes each member's loss by the task's own rule
(dlrun.training.task.task_losses), and backward runs once on their sum (members share no parameter,
so each gets exactly its own gradient).

The optimizer is the trials' optimizer class with one pair of parameter groups per member
(decayed / not decayed, as dlrun.recipe.optim groups a single run's), each group carrying that
member's lr, weight decay, momentum, betas...: every member follows the single-run update
rule exactly. A member whose loss diverges (the single run's rule), or that the sweep's
pruner stops, is masked: it leaves the summed loss, its gradients are dropped before each
optimizer step, and the others go on. The lr schedule is one factor per group, from its
member's schedule knobs (dlrun.recipe.schedule's formulas).
"""

from __future__ import annotations

import lightning as L
import torch

from dlrun.base.lightning_private import logging_step, logs_this_step
from dlrun.base.options import load_object, lookup
from dlrun.recipe.metrics import LR, METRICS_BY_TASK, metric_name
from dlrun.recipe.optim import OPTIMIZERS, optimizer_arguments, parameter_groups
from dlrun.recipe.schedule import lr_factor
from dlrun.population.members import as_logged
from dlrun.population.stacked import StackedMembers
from dlrun.training.task import task_losses


class PopulationModule(L.LightningModule):
    def __init__(self, networks: list, spec, members: list):
        super().__init__()
        self.population = StackedMembers(networks)
        self.spec, self.members = spec, members
        self.metric_names = METRICS_BY_TASK[spec.task]
        self.smoothing = [member.config["loss"]["label_smoothing"] for member in members]
        self.first_group: list = []  # index of each member's first optimizer parameter group
        self.owners: list = []  # the member owning each optimizer parameter group
        self._sums = None  # (K, metrics + 1): an evaluation pass's batch-size-weighted sums and counts

    def forward(self, inputs):
        return self.population(inputs)

    def _values(self, outputs, targets, smoothing, with_metrics: bool) -> list:
        return [task_losses(self.spec.task, outputs[index], targets, smoothing[index], with_metrics)
                for index in range(len(self.members))]

    def _position(self) -> tuple:
        """(step, epoch) as Lightning's logger stamps a row logged now."""
        return logging_step(self.trainer), self.trainer.current_epoch

    def training_step(self, batch, batch_idx):
        inputs, targets = batch
        logged = logs_this_step(self.trainer)  # as TaskModule: metrics on logged steps only
        values = self._values(self(inputs), targets, self.smoothing, logged)
        losses = torch.stack([value["loss"] for value in values]).detach()
        self._mask_diverged(losses.tolist())  # the one host sync a step costs, as the single run's guard
        if logged:
            self._record_train(values)
        live = [value["loss"] for value, member in zip(values, self.members) if member.alive]
        if not live:
            self.trainer.should_stop = True
            return None  # Lightning skips backward and the optimizer step
        return torch.stack(live).sum()

    def _mask_diverged(self, losses: list) -> None:
        step, epoch = self.trainer.global_step, self.trainer.current_epoch
        for member, loss in zip(self.members, losses):
            if member.alive and step % member.guard.check_every_n_steps == 0:
                member.check_loss("training loss", loss, step, epoch)

    def _record_train(self, values: list) -> None:
        step, epoch = self._position()
        table = torch.stack([torch.stack([value[name] for name in self.metric_names]) for value in values]).tolist()
        groups = self.trainer.optimizers[0].param_groups
        for index, member in enumerate(self.members):
            if member.alive:
                logged = {metric_name("train", name): value for name, value in zip(self.metric_names, table[index])}
                logged[LR] = as_logged(groups[self.first_group[index]]["lr"])
                member.add_row(step, epoch, logged)

    def on_before_optimizer_step(self, optimizer):
        for index, member in enumerate(self.members):
            if not member.alive:  # a parameter without a gradient is left alone by torch's optimizers
                for parameter in self.population.member_parameters(index):
                    parameter.grad = None

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        """optim.clip per member: a single run clips its own gradients' norm, not the population's."""
        if gradient_clip_val is None:
            return
        for index in range(len(self.members)):
            parameters = [p for p in self.population.member_parameters(index) if p.grad is not None]
            if gradient_clip_algorithm == "norm":
                torch.nn.utils.clip_grad_norm_(parameters, gradient_clip_val)
            else:
                torch.nn.utils.clip_grad_value_(parameters, gradient_clip_val)

    # evaluation: batch-size-weighted means per member, as Lightning reduces an on_epoch metric
    def _start_pass(self) -> None:
        self._sums = None

    def _evaluate(self, batch) -> None:
        inputs, targets = batch
        values = self._values(self(inputs), targets, [0.0] * len(self.members), True)
        table = torch.stack([torch.stack([value[name] for name in self.metric_names]) for value in values])
        weighted = torch.cat([table * len(inputs), table.new_full((len(values), 1), len(inputs))], dim=1)
        self._sums = weighted if self._sums is None else self._sums + weighted

    def _means(self, stage: str) -> list:
        if self._sums is None:
            return [{} for _ in self.members]
        means = (self._sums[:, :-1] / self._sums[:, -1:]).tolist()
        return [{metric_name(stage, name): value for name, value in zip(self.metric_names, row)} for row in means]

    def on_validation_epoch_start(self):
        self._start_pass()

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch)

    def on_validation_epoch_end(self):
        if self.trainer.sanity_checking:
            return
        step, epoch = self._position()
        for index, (member, values) in enumerate(zip(self.members, self._means("val"))):
            if not member.alive or not values:
                continue
            loss = values[metric_name("val", "loss")]
            if member.check_loss("validation loss", loss, self.trainer.global_step, epoch):
                member.add_row(step, epoch, values)
                # pruned first: a pruned single trial stops before ModelCheckpoint sees that round
                if member.consider_pruning(self.trainer.global_step, epoch):
                    member.consider_best(self.trainer.global_step, epoch, self.population.members[index])

    def on_test_epoch_start(self):
        self._start_pass()

    def test_step(self, batch, batch_idx):
        self._evaluate(batch)

    def on_test_epoch_end(self):
        for member, values in zip(self.members, self._means("test")):
            if member.alive:
                member.test = values

    def use_best_weights(self) -> None:
        """Each member's best validation weights, for the test pass (a single run tests best.ckpt)."""
        for index, member in enumerate(self.members):
            if member.best is not None:
                self.population.members[index].load_state_dict(member.best[3])

    def configure_optimizers(self):
        from dlrun.recipe.schedule import scheduler_steps

        optimizer, self.first_group, self.owners = member_optimizer(self.members, self.population)
        schedule = self.members[0].config["schedule"]
        total = scheduler_steps(self.trainer, schedule["interval"])
        return [optimizer], member_schedulers(self.members, optimizer, self.owners, total)

    def on_save_checkpoint(self, checkpoint):
        """The Trainer saved the population's last.ckpt: each member's part goes to its own
        checkpoints/last.ckpt (dlrun.population.resume), so a killed population can go on."""
        if not self.owners:  # before configure_optimizers: nothing a member could resume yet
            return
        from dlrun.population.resume import member_checkpoints
        from dlrun.training.checkpoint_io import write_checkpoint

        networks = list(self.population.members)
        for member, own in zip(self.members, member_checkpoints(checkpoint, self.members, networks, self.owners,
                                                                str(self.trainer.default_root_dir))):
            write_checkpoint(own, member.run_dir / "checkpoints" / "last.ckpt")
            member.saved_step = checkpoint["global_step"]


def member_optimizer(members: list, population) -> tuple:
    """(optimizer, index of each member's first group, the member owning each group)."""
    groups, first, owners = [], [], []
    for index, member in enumerate(members):
        arguments = optimizer_arguments(member.config["optim"])
        decay = arguments.pop("weight_decay", 0.0)
        first.append(len(groups))
        for group in parameter_groups(population.members[index], decay):
            groups.append({**arguments, **group})
            owners.append(index)
    cls = load_object(lookup(OPTIMIZERS, "optimizer", members[0].config["optim"]["name"]).impl)
    return cls(groups), first, owners


def member_schedulers(members: list, optimizer, owners: list, total: int) -> list:
    """Lightning scheduler dicts: none when no member schedules its lr (a single run steps none either)."""
    from torch.optim.lr_scheduler import LambdaLR

    schedules = [member.config["schedule"] for member in members]
    if all(plain["name"] == "constant" and plain["warmup_steps"] == 0 for plain in schedules):
        return []
    factors = [_factor(schedules[owner], total) for owner in owners]
    return [{"scheduler": LambdaLR(optimizer, factors), "interval": schedules[0]["interval"], "frequency": 1}]


def _factor(plain: dict, total: int):
    return lambda t: lr_factor(plain, t, total)
