"""Entry point of every rank dlrun's parent starts:

    python -m dlrun.distributed.agent --nproc-per-node N ... -m dlrun.distributed.worker RUN_DIR

(agent.py is torch.distributed.run, quieter about failures.)

It reads the config the parent resolved (RUN_DIR/ranks/config.yaml) instead of composing
one, so all ranks train the same experiment whatever Hydra or a sweeper would pick.
"""

from __future__ import annotations

import sys
from pathlib import Path

from omegaconf import OmegaConf

from dlrun.base.errors import BadInput, refusing_bad_input
from dlrun.distributed.records import LAUNCH_CONFIG, ranks_dir
from dlrun.distributed.rank import run_rank


@refusing_bad_input()
def main(argv=None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        raise BadInput("usage: python -m dlrun.distributed.worker RUN_DIR")
    run_dir = Path(args[0])
    cfg = OmegaConf.load(ranks_dir(run_dir) / LAUNCH_CONFIG)
    summary = run_rank(cfg, run_dir)
    return 0 if summary["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
