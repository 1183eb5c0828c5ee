"""Study reports: `dlrun report SWEEP_DIR...` reads one or more sweeps back (each trial's
parameters, summary.json and metrics.csv) and writes overlaid curves, the study's table and
a Markdown page. What a study shows is the `study:` block of its experiment config."""
