"""Outputs (report layer): everything dlrun draws or tabulates from finished runs and sweeps.

    curves       a run's plots (plots/curves.png, diagnostics.png), handed to runs as an end-of-run hook
    sweep_table  a sweep at a glance (table, summary.csv, best command); sweep_plots its plots
    runs         a study's runs read back; settings, figures, page, study: `dlrun report`'s
                 figures and Markdown page; hook: Hydra callbacks that write it when a sweep ends

Imports: every layer below (base, domain, config, training, sweeps); never cli.
"""
