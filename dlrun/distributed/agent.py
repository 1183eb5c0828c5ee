"""`python -m dlrun.distributed.agent ARGS`: torch.distributed.run with ARGS, minus the
Python traceback and banner it prints when a rank fails; the parent reports the failing
rank's own error (from its record) instead, and one line here says what the agent saw."""

from __future__ import annotations

import sys

from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
from torch.distributed.run import main

if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ChildFailedError as error:
        rank, failure = error.get_first_failure()
        print(f"torch.distributed.run: rank {rank} exited first (exit code {failure.exitcode}); "
              f"the agent stopped the other ranks", file=sys.stderr)
        sys.exit(1)
