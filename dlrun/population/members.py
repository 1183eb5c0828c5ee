"""One population member as a trial: what it records while the population trains (its
metric rows, its best weights, whether it diverged) and the files it leaves in its own run
folder, the same files a single run leaves: summary.json, metrics.csv (Lightning's columns
and steps), checkpoints/best.ckpt and last.ckpt (weights and the run's
config: `dlrun eval` and `init=checkpoint` read them as any run's; last.ckpt, written while the
population trains, also holds what it needs to go on: dlrun.population.resume), and its tracker runs
(W&B, MLflow, TensorBoard: the loggers a single run of its config would have, made when the
population ends from the member's rows, and closed as a single run closes them; the metrics
reach the tracker at the end, not live). One figure overlays the members' curves in the
population's folder; the best member also gets its own plots/curves.png, any other when asked
(`dlrun summary TRIAL_DIR`). The caller hands in the drawing functions (PopulationPlots)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import torch

from dlrun.callbacks.divergence import DivergenceGuard
from dlrun.population.knobs import member_labels
from dlrun.training.history import MetricHistory
from dlrun.recipe.metrics import direction, primary_objective
from dlrun.training import run_files
from dlrun.training.checkpoint_io import write_checkpoint
from dlrun.training.summary import parameter_count

RUNNING, DIVERGED, PRUNED = "running", "diverged", "pruned"


def _weights(network) -> dict:
    return {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}


@dataclass
class Member:
    index: int
    config: dict  # the trial's resolved config, plain containers
    run_dir: Path
    summary: dict
    history: MetricHistory
    guard: DivergenceGuard  # the single run's divergence rule, one per member
    status: str = RUNNING
    best: tuple | None = None  # (value, step, epoch, weights) of the best objective so far
    test: dict = field(default_factory=dict)
    stopped_at: tuple | None = None  # (global step, epoch) where it diverged or was pruned
    pruning: tuple | None = None  # (its optuna Trial, the pruner's name) in a sweep with a pruner
    rounds: int = 0  # validation rounds reported to the pruner
    rows: list = field(default_factory=list)  # metrics.csv's rows, once finished
    transform: dict | None = None  # the data's InputTransform, kept in checkpoints as a single run's (dlrun predict)
    saved_step: int | None = None  # the step of the resumable last.ckpt the population last wrote for it

    @classmethod
    def start(cls, index: int, config: dict, run_dir: Path, spec, pruning=None, transform=None) -> "Member":
        run_dir = Path(run_dir).resolve()
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        summary = run_files.start_summary(config, run_dir, {"spec": spec.to_dict()})  # from the first second
        divergence = config["callbacks"]["divergence"]
        guard = DivergenceGuard(run_dir, divergence["check_every_n_steps"],
                                divergence["max_loss_ratio"] if divergence["enabled"] else None)
        return cls(index, config, run_dir, summary, MetricHistory(config["trainer"]["log_every_n_steps"]), guard,
                   pruning=pruning, transform=transform)

    @property
    def alive(self) -> bool:
        return self.status == RUNNING

    def check_loss(self, what: str, value: float, step: int, epoch: int) -> bool:
        """False (and the member masked from now on) when the loss diverged by the single run's rule."""
        problem = self.guard._problem(value) if what == "training loss" else (
            None if math.isfinite(value) else "is not finite")
        if problem is None:
            if what == "training loss":
                self.guard.first_loss = value if self.guard.first_loss is None else self.guard.first_loss
                self.guard.last_finite = (step, value)
            return True
        last = (f"last finite loss {self.guard.last_finite[1]:.6g} at step {self.guard.last_finite[0]}"
                if self.guard.last_finite else "no finite loss before it")
        self.status, self.stopped_at = DIVERGED, (step, epoch)
        self.summary["error"] = (f"diverged at step {step} (epoch {epoch}): {what} {value:.6g} {problem}; {last}; "
                                 "member masked, the rest of its population went on")
        return False

    def add_row(self, step: int, epoch: int, values: dict) -> None:
        self.history.rows.append({"step": step, "epoch": epoch, **values})

    def _last(self, name: str):
        return next((row[name] for row in reversed(self.history.rows) if name in row), None)

    def consider_pruning(self, step: int, epoch: int) -> bool:
        """After a validation round: report the objective to the member's trial, as a single
        trial's dlrun.sweeps.pruning does; False (and the member masked) when the pruner stops it."""
        if self.pruning is None:
            return True
        trial, pruner = self.pruning
        self.rounds += 1
        objective = primary_objective(self.config["objective"])
        value = self._last(objective)
        if value is None or not math.isfinite(value):
            return True
        trial.report(value, step=self.rounds - 1)
        if not trial.should_prune():
            return True
        self.status, self.stopped_at = PRUNED, (step, epoch)
        self.summary["error"] = (f"pruned by the sweep's {pruner} pruner after validation round {self.rounds} "
                                 f"(epoch {epoch}): {objective}={value:.6g}")
        return False

    def consider_best(self, step: int, epoch: int, network) -> None:
        """Keep the weights of the best validation objective (ModelCheckpoint's choice: strictly better)."""
        objective = primary_objective(self.config["objective"])
        value = self._last(objective)
        if value is None or not math.isfinite(value):
            return
        better = (self.best is None or (value > self.best[0] if direction(objective) == "maximize"
                                        else value < self.best[0]))
        if better:
            self.best = (value, step, epoch, _weights(network))

    def finish(self, network, step: int, epoch: int, wall_time_s: float, status: str | None = None) -> dict:
        """Write the member's files and its final summary.json; the summary. `step`, `epoch`:
        where the population stopped (a masked member stopped earlier, where it was masked)."""
        summary = self.summary
        if not self.alive:
            summary["status"] = self.status
            step, epoch = self.stopped_at
        elif status is not None:
            summary["status"] = status
        summary["global_step"], summary["epochs"] = step, epoch
        if network is not None:
            summary["params"] = parameter_count(network)
        summary["best_checkpoint"], summary["last_checkpoint"] = self._write_checkpoints(network, step, epoch)
        summary["final"] = self._final()
        run_files.record_results(summary, self.history)
        summary["test"] = dict(self.test)
        run_files.record_end(summary, wall_time_s)  # the population's time: its members trained side by side
        test_rows = [{"step": step, "epoch": epoch, **self.test}] if self.test else []
        self.rows = self.history.rows + test_rows
        run_files.write_rows(self.run_dir, self.rows)
        run_files.end_summary(summary, self.run_dir)
        return summary

    def close_trackers(self) -> None:
        """The member's W&B / MLflow / TensorBoard runs, after its plots (W&B keeps them too)."""
        kept = run_files.report_rows_to_trackers(self.config, self.run_dir, self.rows, self.summary)
        if kept:
            self.summary.update(kept)
            run_files.end_summary(self.summary, self.run_dir)

    def _final(self) -> dict:
        final = {}
        for row in self.history.rows:
            final.update({name: value for name, value in row.items() if name not in ("step", "epoch")})
        return final

    def weights_checkpoint(self, weights: dict, step: int, epoch: int) -> dict:
        """A checkpoint of these weights in a single run's layout (dlrun eval and init=checkpoint read it)."""
        return run_files.weights_checkpoint(weights, step, epoch, self.config, self.summary["spec"], self.transform)

    def _write_checkpoints(self, network, step: int, epoch: int) -> tuple:
        """(best, last) paths: best as ModelCheckpoint would have chosen it, last the final weights
        (a diverged member's last good ones: it stopped being updated when it diverged)."""
        folder = self.run_dir / "checkpoints"
        best = None
        if self.best is not None and self.config["callbacks"]["checkpoint"]["save_best"]:
            _, best_step, best_epoch, weights = self.best
            best = folder / "best.ckpt"
            write_checkpoint(self.weights_checkpoint(weights, best_step, best_epoch), best)
        last = None
        if self.saved_step == step and (folder / "last.ckpt").is_file():
            last = folder / "last.ckpt"  # the population's resumable one, of this very step: kept
        elif network is not None and self.config["callbacks"]["checkpoint"]["save_last"]:
            last = folder / "last.ckpt"
            write_checkpoint(self.weights_checkpoint(_weights(network), step, epoch), last)
        return (str(best) if best else None), (str(last) if last else None)


@dataclass(frozen=True)
class PopulationPlots:
    """How a population's figures are drawn, handed in by the layer that draws (dlrun.report.curves):
    `overlay(runs, path)` the members' curves in one figure (runs with .label and .history),
    `member(history, run_dir)` one member's own plots/curves.png."""
    overlay: object
    member: object


def plot_population(members: list, plots: PopulationPlots, folder: Path):
    """FOLDER/curves.png, every member's curves overlaid (each labelled with its trial folder and
    the member knobs that differ), and the best completed member's own figure (any other
    member's is drawn when asked: `dlrun summary TRIAL_DIR`); the overlay's path."""
    labels = member_labels([member.config for member in members])
    runs = [SimpleNamespace(label=f"{member.run_dir.name} {label}".strip(), history=member.history)
            for member, label in zip(members, labels)]
    path = plots.overlay(runs, Path(folder) / "curves.png")
    best = best_member(members)
    if best is not None:
        plots.member(best.history, best.run_dir)
    return path


def best_member(members: list):
    """The completed member with the best objective value (None when none completed with one)."""
    done = [member for member in members
            if member.summary["status"] == "completed" and member.summary["objective"]["value"] is not None]
    if not done:
        return None
    pick = max if direction(done[0].summary["objective"]["metric"]) == "maximize" else min
    return pick(done, key=lambda member: member.summary["objective"]["value"])


def as_logged(value) -> float:
    """A Python float as Lightning logs it: a tensor of the default dtype (float32, float64 under 64-true)."""
    return float(torch.tensor(value, dtype=torch.get_default_dtype()))
