"""The sweep's progress line, printed after each finished trial:

    sweep: 3/12 trials done (1 failed), ETA 4 min

Done counts every trial of the study that holds a place (this worker's and other workers'), so
a continued or shared sweep counts from where it stands. The ETA is the remaining trials at the
pace this worker has seen since it started (trials finished anywhere over its wall time), so
more slots or more workers shorten it."""

from __future__ import annotations

import time


def duration(seconds: float) -> str:
    """`< 1 min`, `4 min`, `2 h 05 min`."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "< 1 min"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class SweepProgress:
    def __init__(self, planned: int, done_at_start: int, clock=time.monotonic):
        self.planned, self.done_at_start, self.clock = planned, done_at_start, clock
        self.started = clock()

    def line(self, done: int, failed: int) -> str:
        text = f"sweep: {done}/{self.planned} trials done" + (f" ({failed} failed)" if failed else "")
        finished_here, left = done - self.done_at_start, self.planned - done
        if left > 0 and finished_here > 0:
            text += f", ETA {duration((self.clock() - self.started) / finished_here * left)}"
        return text
