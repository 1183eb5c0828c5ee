"""The end-of-run table: what a user reads first."""

from rich.console import Console

from dlrun.console import result_table


def test_result_table_shows_the_status_in_brackets_and_the_numbers():
    summary = {"name": "mlp_digits", "status": "completed", "final": {"val/acc": 0.97125}, "test": {"test/acc": 0.9611},
               "objective": {"metric": "val/loss", "value": 0.1234}, "global_step": 460, "wall_time_s": 6.52,
               "run_dir": "outputs/runs/x", "best_checkpoint": "outputs/runs/x/checkpoints/best.ckpt", "error": None}
    console = Console(record=True, width=200)
    console.print(result_table(summary))
    text = console.export_text()
    assert "dlrun: mlp_digits [completed]" in text  # not eaten as a rich style tag
    assert "0.1234" in text and "460" in text and "6.5 s" in text and "best.ckpt" in text
