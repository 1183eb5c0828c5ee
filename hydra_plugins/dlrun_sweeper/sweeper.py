"""DlrunSweeper: Hydra's side of dlrun sweeps. It reads what Hydra composed, checks each
trial's config before launching it, hands each trial to Hydra's launcher (basic, joblib,
submitit) as a one-job batch numbered by the study, and turns the job's return into an
outcome; the search itself, and the worker slots that call `launch_trial` side by side, are
dlrun.sweeps'. Settings: conf/hydra/sweeper/dlrun.yaml."""

from __future__ import annotations

import difflib
import threading
from pathlib import Path
from typing import Any, List

from hydra.core.plugins import Plugins
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper

from dlrun.base.errors import ConfigError, exiting_on_bad_input
from dlrun.base.hydra_private import basic_launcher, error_says, job_exception
from dlrun.config.overrides import hydra_quoted


class SweepError(CompactHydraException):
    """A sweep that cannot start or must stop: Hydra prints the message alone and exits 1."""


class DlrunSweeper(Sweeper):
    def __init__(self, **settings: Any) -> None:
        from omegaconf import OmegaConf

        self.settings = {key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
                         for key, value in settings.items()}
        self.hydra_context = self.config = self.launcher = None
        self.sweep_dir = self.study_name = self.devices = None
        self._composing = threading.Lock()  # Hydra's config loader is not known to be thread-safe
        self._template = None  # the last trial Hydra composed (dlrun.sweeps.trial_config)

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.hydra_context, self.config = hydra_context, config
        problem = _launcher_problem(config)
        if problem:  # before Hydra builds the launcher and fails with a traceback
            with exiting_on_bad_input("sweep"):
                raise ConfigError([problem])
        _size_slurm_jobs(config)
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)
        self.sweep_dir = Path(str(config.hydra.sweep.dir))

    def sweep(self, arguments: List[str]) -> Any:
        from omegaconf import OmegaConf

        from dlrun.base import atomic
        from dlrun.recipe.metrics import objectives
        from dlrun.report.sweep_table import summarize
        from dlrun.sweeps.devices import DevicePlan, pins_devices
        from dlrun.sweeps.driver import SweepRequest, open_sweep_study, plan_sweep, run_sweep
        from dlrun.sweeps.loop import SweepAborted
        from dlrun.training.record import sources_from_hydra

        sources = sources_from_hydra(self.config.hydra)
        request = SweepRequest(
            settings=self.settings, arguments=list(arguments), sweep_dir=self.sweep_dir,
            objective=objectives(self.config.objective),
            launcher=OmegaConf.to_container(self.config.hydra.launcher, resolve=True),
            hydra_overrides=list(self.config.hydra.overrides.hydra), config_loader=self.hydra_context.config_loader,
            sources=sources.as_record())
        # bad input: stop before any trial, exit 2 as the CLI does (the search space's probe point was
        # composed and validated by the command line's precheck, dlrun.cli.precheck, before Hydra started)
        with exiting_on_bad_input("sweep"):
            planned = plan_sweep(request)
            study = open_sweep_study(request, planned)  # creates the folder (journal) or connects
        self.study_name = study.study_name
        self.devices = DevicePlan(pins_devices(request.launcher) and planned.plan.n_jobs > 1)
        self.sweep_dir.mkdir(parents=True, exist_ok=True)
        _name_config_folders(self.config, sources)
        # as Hydra's own sweeper leaves it; whole, though every worker of the sweep writes it
        atomic.write_text(self.sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        launch_batch = self.launch_population if hasattr(self.launcher, "launch_members") else None
        queue = _watch_slurm_queue(request.launcher, self.sweep_dir)
        try:
            return run_sweep(request, planned, self.launch_trial, summarize, study, launch_batch)
        except SweepAborted as error:
            raise SweepError(f"dlrun sweep: {error}") from None
        finally:
            if queue is not None:
                queue.stop()

    def _trial_config(self, overrides, with_hydra: bool = False):
        """(the trial's validated config, None), or (None, why it must not run: composition or validation).
        `with_hydra`: the config as composed, hydra node included (for a launcher that runs it)."""
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        from dlrun.config.compose import explain_composition_error
        from dlrun.config.validate import validated

        try:
            with self._composing:
                composed = self._composed(overrides)
            config = validated(composed)
            if with_hydra:
                config = composed
        except ConfigError as error:
            return None, "config error: " + "; ".join(error.problems)
        except (HydraException, OmegaConfBaseException) as error:
            unknown = error_says("unknown_key", str(error))
            if unknown:  # explain_composition_error would compose again: not possible inside Hydra's app
                return None, "config error: " + self._unknown_key(unknown.group(1), overrides)
            return None, "config error: " + explain_composition_error(error, list(overrides))
        return config, None

    def _composed(self, overrides):
        """The trial's config: set from the last composed trial where only values differ
        (dlrun.sweeps.trial_config), else composed by Hydra (and remembered)."""
        from dlrun.sweeps.trial_config import TrialTemplate

        if self._template is None:
            self._template = TrialTemplate()
        derived = self._template.derive(overrides, self.config)
        if derived is not None:
            return derived
        composed = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        self._template.remember(overrides, composed)
        return composed

    def _unknown_key(self, key: str, overrides) -> str:
        """`key=value: unknown key; keys of GROUP: ... (did you mean ...?)`, from the composed config."""
        from omegaconf import OmegaConf

        value = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+~").split("=", 1)[0] == key), "?")
        group = key.rsplit(".", 1)[0] if "." in key else ""
        node = OmegaConf.select(self.config, group) if group else None
        known = sorted(node.keys()) if OmegaConf.is_dict(node) else []
        allowed = f"; keys of {group}: {', '.join(known)}" if known else ""
        close = difflib.get_close_matches(key.rsplit(".", 1)[-1], known, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else f" (add it with +{key}=... if it is meant to be new)"
        return f"{key}={value}: unknown key{allowed}{guess}"

    def _trial_env(self, number: int, slot: int, config) -> dict:
        """The trial's env_set: where its study is (for pruning) and, on a GPU machine, its own GPU."""
        from dlrun.sweeps.study import trial_env

        return {**trial_env(self.sweep_dir, number, self.study_name), **self.devices.env(slot, config.get("hardware"))}

    def _environment(self, number: int, slot: int, config) -> list:
        """The trial's env_set as overrides."""
        return [_env_override(name, value) for name, value in self._trial_env(number, slot, config).items()]

    def launch_trial(self, number: int, overrides, slot: int):
        """Run one trial as a one-job batch of Hydra's launcher (its folder: the trial number) -> Outcome."""
        from hydra.core.utils import JobStatus

        from dlrun.sweeps.loop import Outcome, outcome_from_run

        in_process = type(self.launcher) is basic_launcher()
        config, problem = self._trial_config(overrides, with_hydra=in_process)
        if problem:
            return Outcome("failed", error=problem)
        try:
            if in_process:
                returned = self._run_composed(number, config, self._trial_env(number, slot, config))
            else:
                (returned,) = self.launcher.launch([list(overrides) + self._environment(number, slot, config)],
                                                   initial_job_idx=number)
        except Exception as error:  # the launcher itself failed (e.g. a lost cluster job): read what the run left
            return outcome_from_run(self.sweep_dir / str(number), exception=error)
        run_dir = (Path(str(returned.hydra_cfg.hydra.runtime.output_dir)) if returned.hydra_cfg
                   else self.sweep_dir / str(number))
        if returned.status == JobStatus.COMPLETED:
            return outcome_from_run(run_dir, value=returned.return_value)
        # a failed job holds its exception; how the run ended (pruned, diverged, failed) is in its summary
        return outcome_from_run(run_dir, exception=job_exception(returned))

    def _run_composed(self, number: int, config, env: dict):
        """What Hydra's basic launcher does with a one-job batch, for the config this sweeper
        has just composed and checked: the launcher would compose it again (about 0.2-0.3 s
        a trial, most of a trial's overhead beyond its run). The env_set entries go in as
        their `++hydra.job.env_set` overrides would put them."""
        from hydra.core.utils import configure_log, run_job, setup_globals
        from omegaconf import open_dict

        setup_globals()
        sweep_config = self.launcher.config
        configure_log(sweep_config.hydra.hydra_logging, sweep_config.hydra.verbose)
        Path(str(sweep_config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        with open_dict(config):
            config.hydra.job.id = config.hydra.job.num = number
            for name, value in env.items():
                config.hydra.job.env_set[name] = value
                config.hydra.overrides.hydra.append(_env_override(name, value))
        returned = run_job(hydra_context=self.hydra_context, task_function=self.launcher.task_function, config=config,
                           job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")
        configure_log(sweep_config.hydra.hydra_logging, sweep_config.hydra.verbose)
        return returned

    def launch_population(self, trials: list, slot: int) -> list:
        """[(trial number, overrides)] -> [Outcome]: the trials checked one by one, then handed
        to the population launcher together (dlrun.population)."""
        from dlrun.sweeps.loop import Outcome, outcome_from_run

        outcomes, checked = {}, []
        for number, overrides in trials:
            composed, problem = self._trial_config(overrides, with_hydra=True)
            if problem:
                outcomes[number] = Outcome("failed", error=problem)
            else:  # composed once (Hydra takes about 0.2 s a trial); the environment for a trial that runs alone
                checked.append((number, list(overrides) + self._environment(number, slot, composed), composed))
        if checked:
            for number, run_dir, error in self.launcher.launch_members(checked, study_name=self.study_name):
                outcomes[number] = outcome_from_run(run_dir, exception=error)
        return [outcomes[number] for number, _ in trials]


def _name_config_folders(config, sources) -> None:
    """hydra.searchpath with --config-dir's folder in it (Hydra leaves it out), so multirun.yaml
    names every config folder. Only the saved copy reads it: the trials' configs come from the
    config loader, whose folders were set when the sweep started."""
    from omegaconf import open_dict

    entries = list(config.hydra.searchpath)
    with open_dict(config):
        config.hydra.searchpath = entries + [entry for entry in sources.searchpath_entries() if entry not in entries]


def _size_slurm_jobs(config) -> None:
    """A SLURM launcher's null sizes filled in from the trial config (dlrun.sweeps.slurm), then
    checked against the partition: a job no node can hold is a config error, not a job pending forever."""
    from omegaconf import OmegaConf, open_dict

    from dlrun.sweeps import slurm

    launcher = OmegaConf.to_container(config.hydra.launcher, resolve=True)
    if not slurm.is_slurm(launcher):
        return
    sizes = slurm.job_sizes(launcher, config)
    with open_dict(config):
        for key, value in sizes.items():
            config.hydra.launcher[key] = value
    problem = slurm.partition_problem({**launcher, **sizes})
    if problem:
        with exiting_on_bad_input("sweep"):
            raise ConfigError([problem])


def _watch_slurm_queue(launcher: dict, sweep_dir: Path):
    """On SLURM: submitit's warnings to the sweep's slurm.log, and a line while jobs wait (a started thread)."""
    from dlrun.sweeps import slurm

    if not slurm.is_slurm(launcher):
        return None
    slurm.quiet_submitit(sweep_dir)
    folder = Path(str(launcher.get("submitit_folder", sweep_dir / ".submitit" / "%j")))
    queue = slurm.QueueWatch(folder.parent if "%j" in folder.name else folder)
    queue.start()
    return queue


def _env_override(name: str, value: str) -> str:
    return f"++hydra.job.env_set.{name}={hydra_quoted(value)}"


def _launcher_problem(cfg):
    """A launcher setting that will not resolve (e.g. SLURM's gpus_per_node from
    hardware.devices=auto), said before any trial rather than as a traceback at launch."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    except OmegaConfBaseException as error:
        devices = OmegaConf.select(cfg, "hardware.devices")
        if "gpus_per_node" in str(error) or "tasks_per_node" in str(error):
            return (f"hardware.devices={devices!r}: a SLURM job needs the number of devices (ranks) per node; "
                    "set hardware.devices=N")
        return f"hydra.launcher: {str(error).strip().splitlines()[0]}"
    return None
