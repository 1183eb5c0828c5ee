"""Populations: several sweep trials trained together as one vectorised model in one
Lightning run (`launcher=population`). Each member is still a trial of its own: its own run
folder, summary.json, metrics.csv, curves and checkpoints, as a single run leaves them.

    knobs    which config keys may differ inside a population; how trials group
    stacked  the members' networks called as one (torch.func.vmap over stacked parameters)
    module   the LightningModule of a population: per-member losses, optimizer groups, masking
    members  what each member records and the files it leaves in its run folder
    run      one population from configs to summaries
"""
