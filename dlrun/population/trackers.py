"""A population member's tracker runs (W&B, MLflow, TensorBoard): the loggers a single run of
its config would have, made when the population ends, given the member's rows (the names and
steps of its metrics.csv) and closed as a single run closes them (final and best metrics,
plots, the run's id in summary.json). The metrics reach the tracker at the end, not live."""

from __future__ import annotations

from types import SimpleNamespace


def report_to_trackers(member, rows: list, summary: dict) -> dict:
    """{logger name: its summary.json entry} for the member's tracker runs ({} without trackers)."""
    from omegaconf import OmegaConf, open_dict

    from dlrun.loggers.table import build_loggers, chosen_loggers, finish_loggers

    cfg = OmegaConf.create(member.config)
    with open_dict(cfg):
        cfg.logger.csv = False  # the member's metrics.csv is written already
    if not chosen_loggers(cfg.logger):
        return {}
    loggers = build_loggers(cfg, member.run_dir)
    for logger in loggers:
        for row in rows:
            logger.log_metrics({name: value for name, value in row.items() if name != "step"}, step=int(row["step"]))
        logger.save()
    return finish_loggers(SimpleNamespace(loggers=loggers), summary)  # the finishers read trainer.loggers alone
