"""metrics.csv: every logged metric, a row per logging step.

Lightning's CSV writer appends in place and rewrites the file in place when a new column
appears, so a kill or a full disk mid-write can cut or empty it. Here every save writes the
whole file to a temporary beside it and renames it into place (dlrun.base.atomic): the previous
good file survives anything. Readers skip a cut-off last row.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from dlrun.base import atomic

METRICS_FILE = "metrics.csv"


def read_metric_rows(path) -> list:
    """The file's complete rows (a row with fewer fields than the header was cut off)."""
    path = Path(path)
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return [row for row in reader if None not in row.values() and None not in row]


def write_metric_rows(path, rows) -> None:
    """All rows, columns the union of their keys (sorted, as Lightning writes them)."""
    fields = sorted({key for row in rows for key in row})
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    atomic.write_text(path, text.getvalue())
