"""Populations: several sweep trials trained together as one vectorised model in one
Lightning run (`launcher=population`). Each member is still a trial of its own: its own run
folder, record.json, summary.json, metrics.csv and checkpoints, as a single run leaves them.

    knobs       which config keys may differ inside a population; how trials group
    stacked     the members' networks called as one (each in turn on the CPU, torch.func.vmap on a GPU)
    module      the LightningModule of a population: per-member losses, evaluation, masking; the
                trials' optimizer over every member's parameter groups, per-member lr schedules
    members     what each member records; its files (through dlrun.training.run_files, as a single run's);
                one overlaid figure per population and the best member's own
    run         one population from prepared runs (dlrun.training.session.Run) to summaries
    resume      each member's resumable last.ckpt, split from the population's; put back together to go on

Layer: beside dlrun.sweeps, above the run layer (DESIGN: Layers). It imports the run layer
(dlrun.training), the domain packages and dlrun.base; never sweeps, report or cli: the
population launcher (hydra_plugins/dlrun_sweeper/population.py) hands in the sweep's
pruning trials and the plot functions.
"""
