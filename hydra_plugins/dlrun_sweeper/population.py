"""PopulationLauncher (`launcher=population`): the sweep's trials, up to hydra.launcher.size
at a time, trained together in this process as populations (dlrun.population). Each trial
gets its folder, .hydra/ files and number exactly as Hydra's basic launcher gives them;
trials that share everything but the member knobs train as one population; a trial a
population cannot hold (dlrun.population.knobs.why_alone) runs alone, as the basic launcher
runs it. Settings: conf/hydra/launcher/population.yaml."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Sequence

from hydra.core.utils import JobReturn, JobStatus
from hydra.plugins.launcher import Launcher

log = logging.getLogger("dlrun.sweep")

POPULATIONS_DIR = "populations"  # SWEEP_DIR/populations/<first trial>: the shared Trainer's own folder


def _prepared(config):
    """The task function of a member's Hydra job: the folder and .hydra/ files are made, nothing trains."""
    from dlrun.config.option_name import name_saved_job_config

    name_saved_job_config()  # as dlrun.cli.app's task function does
    return config


@contextmanager
def _as_job(config):
    """Hydra's HydraConfig as the job `config`'s while inside, as Hydra's run_job sets it: the
    population trains in the sweep's process as a sweep trial (its console quiet, what it prints
    in its run.log: dlrun.training.console)."""
    from hydra.core.hydra_config import HydraConfig

    previous = HydraConfig.instance().cfg
    HydraConfig.instance().set_config(config)
    try:
        yield
    finally:
        HydraConfig.instance().cfg = previous


class PopulationLauncher(Launcher):
    def __init__(self, size: int = 16, **_settings) -> None:
        self.size = size
        self.config = self.hydra_context = self.task_function = None
        self.alone = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        from dlrun.base.hydra_private import basic_launcher

        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function
        self.alone = basic_launcher()()
        self.alone.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def _job_config(self, number: int, overrides, composed=None):
        from omegaconf import open_dict

        config = composed if composed is not None else self.hydra_context.config_loader.load_sweep_config(
            self.config, list(overrides))
        with open_dict(config):
            config.hydra.job.id = config.hydra.job.num = number
        return config

    def _prepare(self, config) -> Path:
        """The member's run folder and .hydra/ files, made by Hydra's own run_job."""
        from hydra.core.utils import run_job

        returned = run_job(hydra_context=self.hydra_context, task_function=_prepared, config=config,
                           job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir", configure_logging=False)
        return Path(str(returned.hydra_cfg.hydra.runtime.output_dir))

    def _alone(self, number: int, overrides) -> tuple:
        from dlrun.base.hydra_private import job_exception

        (returned,) = self.alone.launch([list(overrides)], initial_job_idx=number)
        run_dir = Path(str(returned.hydra_cfg.hydra.runtime.output_dir))
        return number, run_dir, None if returned.status == JobStatus.COMPLETED else job_exception(returned)

    def launch_members(self, trials: list, study_name: str | None = None) -> list:
        """[(trial number, overrides[, its config as the sweeper composed it])] -> [(trial number,
        run folder, exception or None)], in any order. `study_name`: the sweep's study, for pruning."""
        from omegaconf import OmegaConf

        from dlrun.cli.app import name_sweep_job
        from dlrun.config.compose import without_hydra
        from dlrun.population.knobs import group_members, why_alone

        members, results = {}, []
        for number, overrides, *composed in trials:
            config = self._job_config(number, overrides, *composed)
            task = without_hydra(config)
            name_sweep_job(task, config.hydra)  # tracker runs NAME-<trial> in the sweep's group, as a single trial's
            plain = OmegaConf.to_container(task, resolve=True)
            reason = why_alone(plain)
            if reason:
                log.info("trial %d runs alone, not in a population: %s", number, reason)
                results.append(self._alone(number, overrides))
            else:  # a config dlrun's sweeper composed was validated there: checked once per trial
                members[number] = (config, plain, task, bool(composed))
        groups = group_members({number: member[1] for number, member in members.items()})
        if len(groups) > 1:
            _say_split(groups, members)
        sources = self._resume_sources(list(members), study_name)
        for group in groups:
            for part in _by_resume_point(group, sources):
                point = sources[part[0]][1]
                if point is not None:  # a sweep-level event: on the console, not only in a trial's run.log
                    log.info("population resumes at step %d from its members' checkpoints (trials %s)", point[1],
                             ", ".join(map(str, part)))
                results += self._train(part, members, study_name, [sources[number][0] for number in part])
        return results

    def _resume_sources(self, numbers: list, study_name) -> dict:
        """{trial number: (the last.ckpt it continues, its resume point) or (None, None)}: a retry of
        an interrupted member continues from that member's checkpoint (dlrun.population.resume)."""
        from dlrun.population.resume import resume_point
        from dlrun.sweeps.reconcile import trial_folder
        from dlrun.sweeps.study import NotASweep, open_trial
        from dlrun.sweeps.workers import RETRY_ATTR

        sources = {number: (None, None) for number in numbers}
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        try:
            study = open_trial(sweep_dir, numbers[0], study_name)[0].study if numbers else None
        except NotASweep:  # another sweeper's jobs (Hydra's launcher interface): no retries to continue
            return sources
        trials = {frozen.number: frozen for frozen in study.get_trials(deepcopy=False)} if study else {}
        for number in numbers:
            retry_of = trials[number].user_attrs.get(RETRY_ATTR) if number in trials else None
            if retry_of is not None and retry_of in trials:
                path = trial_folder(sweep_dir, trials[retry_of]) / "checkpoints" / "last.ckpt"
                point = resume_point(path)
                sources[number] = (path, point) if point is not None else (None, None)
        return sources

    def _pruning(self, numbers: list, study_name) -> list | None:
        """Per member (its optuna Trial, the pruner's name), or None when the sweep prunes nothing."""
        from dlrun.sweeps.study import open_trial

        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        trial, record = open_trial(sweep_dir, numbers[0], study_name)
        pruner = record.get("pruner", {}).get("name", "none")
        if pruner == "none":
            return None
        return [(trial, pruner)] + [(open_trial(sweep_dir, number, study_name)[0], pruner) for number in numbers[1:]]

    def _train(self, numbers: list, members: dict, study_name=None, resume_from=None) -> list:
        """members: {trial number: (its Hydra job config, the task config as plain containers, the task
        config, whether dlrun's sweeper validated it already)}; resume_from: per member, the
        last.ckpt it continues (all or none)."""
        from dlrun.population.run import train_population
        from dlrun.population.members import PopulationPlots
        from dlrun.report.curves import plot_curves
        from dlrun.report.figures import plot_population
        from dlrun.config.validate import validate
        from dlrun.training.record import invocation_from_hydra
        from dlrun.training.session import Run

        run_dirs = [self._prepare(members[number][0]) for number in numbers]
        runs = [Run(members[number][2], run_dir, invocation_from_hydra(members[number][0].hydra, "population member"))
                for number, run_dir in zip(numbers, run_dirs)]
        try:
            for number, run in zip(numbers, runs):
                if not members[number][3]:  # composed here, for another sweeper (Hydra's launcher interface)
                    validate(run.config)
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            log.info("population of %d: trials %s", len(numbers), ", ".join(map(str, numbers)))
            with _as_job(members[numbers[0]][0]):
                summaries = train_population(runs, sweep_dir / POPULATIONS_DIR / str(numbers[0]),
                                             self._pruning(numbers, study_name),
                                             plots=PopulationPlots(overlay=plot_population, member=plot_curves),
                                             resume_from=resume_from if resume_from and all(resume_from) else None)
        except Exception as error:  # the members' summaries (when written) say more
            return [(number, run_dir, error) for number, run_dir in zip(numbers, run_dirs)]
        if any(summary["status"] == "interrupted" for summary in summaries):
            # as a single trial's job (dlrun.cli.app): a signal stops the whole sweep, whose worker then
            # marks its running trials interrupted and queues their points again
            raise KeyboardInterrupt(f"sweep stopped during the population of trials {numbers}; run the same "
                                    "command again to continue the sweep")
        return [(number, run_dir, None) for number, run_dir in zip(numbers, run_dirs)]

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Hydra's launcher interface (consecutive job numbers); dlrun's sweeper calls launch_members."""
        from dlrun.training.summary import read_summary

        trials = [(initial_job_idx + index, list(overrides)) for index, overrides in enumerate(job_overrides)]
        returns = []
        for number, run_dir, error in sorted(self.launch_members(trials), key=lambda result: result[0]):
            summary = read_summary(run_dir) if (Path(run_dir) / "summary.json").is_file() else {}
            returned = JobReturn(overrides=trials[number - initial_job_idx][1], working_dir=str(run_dir))
            completed = error is None and summary.get("status") == "completed"
            returned.status = JobStatus.COMPLETED if completed else JobStatus.FAILED
            returned.return_value = (summary.get("objective") or {}).get("value") if completed else error
            returns.append(returned)
        return returns


def _by_resume_point(group: list, sources: dict) -> list:
    """A population's trials split by where they start: members resuming from one killed
    population's checkpoint at one step train together; fresh trials together."""
    parts: dict = {}
    for number in group:
        parts.setdefault(sources[number][1], []).append(number)
    return list(parts.values())


def _say_split(groups: list, members: dict) -> None:
    from dlrun.population.knobs import differing_keys

    keys = differing_keys([members[group[0]][1] for group in groups])
    log.info("%d populations, not one: their trials differ in %s (a population shares all but lr, weight decay, "
             "momentum/betas, init, label smoothing, dropout and schedule knobs)", len(groups), ", ".join(keys))
