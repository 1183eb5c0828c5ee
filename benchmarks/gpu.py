"""The GPU check, one command (under 8 minutes on one GPU):

1. transformer: training throughput of dlrun (its Trainer, callbacks and logger) against a
   hand-written loop on the same GPU, same model (dlrun's factory), same preloaded data, same
   optimizer, for fp32, bf16-mixed and bf16-mixed + torch.compile: tokens/s and model FLOPs
   utilisation (6 N + 12 depth T width FLOPs a token, N the weights of every matmul, against
   the GPU's dense bf16 peak).
2. population: the default MLP's log-space lr sweep at K = 64 as one population
   (launcher=population) against the same sweep's first trials one after another
   (launcher=basic): trials/min, and each shared trial's val/loss against its twin.
3. ddp: the transformer case under `hardware=ddp` on every visible GPU against `hardware=gpu`
   (one): tokens/s of training, from two run lengths (start-up cancels).

Each part runs in its own process with a time limit; a part that fails or times out is
reported as such and the others go on. The end of the output is a Markdown block (and the
same numbers as JSON, also written to --out) to paste into benchmarks/RESULTS.md.

Without a GPU (or with --smoke) every part runs in tiny sizes on the CPU in seconds (DDP:
hardware=ddp_cpu, two CPU ranks): a check that the script works (tests/test_benchmarks.py).

    python benchmarks/gpu.py                     # the GPU check
    python benchmarks/gpu.py --out gpu.json      # also write the JSON
    python benchmarks/gpu.py --smoke             # CPU smoke
    python benchmarks/gpu.py --part transformer  # one part
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Dense bf16 peak FLOP/s by a substring of torch.cuda.get_device_name() (the vendors' data sheets, SXM parts).
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10G": 70e12}
SIZES = {
    "gpu": {"transformer": ["model.width=512", "model.depth=6", "model.heads=8", "data.length=256", "data.vocab=256",
                            "data.n_samples=16384", "data.batch_size=64"],
            "steps": 200, "warmup": 30, "population": 64, "sequential_sample": 2, "ddp_steps": (100, 300),
            # seconds per part; together under the 8 minutes the check may take
            "limits": {"transformer": 220, "population": 150, "ddp": 100}},
    "smoke": {"transformer": ["model.width=32", "model.depth=1", "model.heads=2", "data.length=16", "data.vocab=10",
                              "data.n_samples=512", "data.batch_size=16"],
              "steps": 4, "warmup": 2, "population": 2, "sequential_sample": 1, "ddp_steps": (2,),
              "limits": {"transformer": 300, "population": 300, "ddp": 300}},
}
TOTAL_LIMIT_S = 470
SETTINGS = {"fp32": ("32-true", False), "bf16-mixed": ("bf16-mixed", False), "bf16-mixed + compile": ("bf16-mixed", True)}
QUIET = ["trainer.progress_bar=false", "trainer.test_after_fit=false", "trainer.limit_val_batches=0"]


# ---- part 1: transformer throughput, in-process (run by a child: `--part transformer`) ----

def compose(overrides):
    from dlrun.config.compose import compose as compose_config
    from dlrun.config.validate import validated

    return validated(compose_config(overrides))


def flops_per_token(model, cfg) -> float:
    """6 N + 12 depth T width: N the weights of every matmul (embedding lookups cost none)."""
    import torch

    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    weights = sum(p.numel() for p in model.parameters() if p.dim() >= 2 and id(p) not in embeddings)
    return 6 * weights + 12 * cfg.model.depth * cfg.data.length * cfg.model.width


def synchronize():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def hand_loop_seconds(cfg, precision: str, compiled: bool, steps: int, warmup: int, device) -> float:
    """Seconds of `steps` training steps after `warmup`: the loop a researcher writes by hand."""
    import torch

    from dlrun.recipe.optim import build_optimizer
    from dlrun.training.runner import build_components

    torch.manual_seed(cfg.seed)
    torch.set_float32_matmul_precision(cfg.hardware.matmul_precision)  # as dlrun's trainer sets it (TF32 on a GPU)
    datamodule, task = build_components(cfg)
    inputs, targets = (tensor.to(device) for tensor in datamodule.splits.train)
    model = task.model.to(device)
    optimizer = build_optimizer(cfg.optim, model)
    forward = torch.compile(model) if compiled else model
    autocast = (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16-mixed"
                else contextlib.nullcontext())
    batch, done, started = cfg.data.batch_size, 0, None
    model.train()
    while done < warmup + steps:
        order = torch.randperm(len(inputs), device=device)
        for start in range(0, len(inputs) - batch + 1, batch):
            if done == warmup:
                synchronize()
                started = time.perf_counter()
            index = order[start:start + batch]
            with autocast:
                loss = task._losses_and_metrics(forward(inputs[index]), targets[index], with_metrics=False)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done += 1
            if done == warmup + steps:
                break
    synchronize()
    return time.perf_counter() - started


def dlrun_seconds(cfg, steps: int, warmup: int):
    """(seconds of `steps` training steps after `warmup`, the model) under dlrun's own Trainer."""
    import lightning as L

    from dlrun.training.runner import build_components
    from dlrun.training.trainer import build_trainer

    class StepClock(L.Callback):
        started = stopped = None

        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == warmup and self.started is None:
                synchronize()
                self.started = time.perf_counter()

        def on_train_end(self, trainer, *args):
            synchronize()
            self.stopped = time.perf_counter()

    clock = StepClock()
    with tempfile.TemporaryDirectory() as run_dir:
        L.seed_everything(cfg.seed, verbose=False)
        datamodule, task = build_components(cfg)
        trainer = build_trainer(cfg, Path(run_dir), extra_callbacks=[clock])
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.fit(task, datamodule=datamodule)
        if trainer.global_step != warmup + steps:
            raise RuntimeError(f"dlrun trained {trainer.global_step} steps, expected {warmup + steps}")
        return clock.stopped - clock.started, task.model


def peak_flops():
    import torch

    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def transformer_part(mode: str) -> dict:
    import torch

    sizes = SIZES[mode]
    gpu = mode == "gpu"
    device = torch.device("cuda" if gpu else "cpu")
    hardware = ["hardware=gpu"] if gpu else ["hardware=cpu", "hardware.threads=1"]
    steps, warmup = sizes["steps"], sizes["warmup"]
    base = ["model=transformer", "data=reverse", *sizes["transformer"], *hardware, *QUIET,
            f"trainer.max_steps={warmup + steps}", "trainer.max_epochs=100000"]
    settings = SETTINGS if gpu else {k: v for k, v in SETTINGS.items() if not v[1]}  # inductor on CPU: minutes
    rows, peak = [], peak_flops()
    for name, (precision, compiled) in settings.items():
        cfg = compose([*base, f"hardware.precision={precision}", f"hardware.compile={str(compiled).lower()}"])
        tokens = steps * cfg.data.batch_size * cfg.data.length
        hand = hand_loop_seconds(cfg, precision, compiled, steps, warmup, device)
        ours, model = dlrun_seconds(cfg, steps, warmup)
        per_token = flops_per_token(model, cfg)
        row = {"setting": name, "hand_tokens_per_s": tokens / hand, "dlrun_tokens_per_s": tokens / ours,
               "ratio": hand / ours, "flops_per_token": per_token}
        if peak:
            row["hand_mfu"], row["dlrun_mfu"] = per_token * tokens / hand / peak, per_token * tokens / ours / peak
        rows.append(row)
        print(f"  {name:22s} hand {row['hand_tokens_per_s']:11.0f} tok/s   dlrun {row['dlrun_tokens_per_s']:11.0f} "
              f"tok/s   ratio {row['ratio']:.3f}" + (f"   MFU hand {row['hand_mfu']:.1%} dlrun {row['dlrun_mfu']:.1%}"
                                                    if peak else ""), flush=True)
    if not gpu:
        rows.append({"setting": "bf16-mixed + compile", "skipped": "CPU smoke: inductor compiles for minutes"})
    return {"case": " ".join(base[:2] + sizes["transformer"]), "steps": steps, "warmup": warmup,
            "peak_bf16_flops": peak, "rows": rows}


# ---- parts 2 and 3: dlrun commands in subprocesses ----

def dlrun_command(args, cwd: Path, limit: float):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dlrun", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=limit, env={**os.environ, "WANDB_MODE": "disabled", "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise RuntimeError(f"dlrun {' '.join(args)} exited {done.returncode}: {done.stderr[-1500:]}")
    return time.perf_counter() - started


def sweep_results(folder: Path) -> dict:
    with open(folder / "summary.csv") as handle:
        return {int(row["trial"]): (row["status"], float(row["optim.lr"]), float(row["val/loss"] or "nan"))
                for row in csv.DictReader(handle)}


def population_part(mode: str, deadline: float) -> dict:
    sizes = SIZES[mode]
    size, sample = sizes["population"], sizes["sequential_sample"]
    hardware = ["hardware=gpu"] if mode == "gpu" else ["hardware=cpu", "hardware.threads=1",
                                                       "trainer.max_epochs=1", "trainer.limit_train_batches=2"]
    work = ["trainer.progress_bar=false", *hardware, "optim.lr=tag(log, interval(1e-4, 1e-1))", "hydra.sweeper.seed=0"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        population = dlrun_command(["-m", *work, "launcher=population", f"hydra.launcher.size={size}",
                                    f"hydra.sweeper.n_trials={size}", f"hydra.sweep.dir={tmp / 'population'}"],
                                   tmp, deadline - time.perf_counter())
        sequential = dlrun_command(["-m", *work, "launcher=basic", f"hydra.sweeper.n_trials={sample}",
                                    f"hydra.sweep.dir={tmp / 'sequential'}"], tmp, deadline - time.perf_counter())
        pooled, alone = sweep_results(tmp / "population"), sweep_results(tmp / "sequential")
    completed = sum(status == "completed" for status, _, _ in pooled.values())
    gaps = [abs(pooled[n][2] - alone[n][2]) / abs(alone[n][2]) for n in alone if pooled[n][1] == alone[n][1]]
    estimate = sequential / sample * size
    result = {"size": size, "population_s": population, "completed": completed,
              "population_trials_per_min": 60 * size / population, "sequential_sample": sample,
              "sequential_s": sequential, "sequential_trials_per_min": 60 * sample / sequential,
              "speedup_estimate": estimate / population, "largest_val_loss_gap": max(gaps) if gaps else None,
              "twins_compared": len(gaps)}
    print(f"  population of {size}: {population:.1f} s ({result['population_trials_per_min']:.1f} trials/min, "
          f"{completed}/{size} completed); {sample} sequential trials {sequential:.1f} s "
          f"({result['sequential_trials_per_min']:.1f} trials/min); speedup about {result['speedup_estimate']:.1f}x; "
          f"largest val/loss gap to a sequential twin {result['largest_val_loss_gap']}", flush=True)
    return result


def training_seconds(args, run_dir: Path, deadline: float):
    """(whole command seconds, summary) of one run in `run_dir`."""
    seconds = dlrun_command([*args, f"hydra.run.dir={run_dir}"], run_dir.parent, deadline - time.perf_counter())
    summary = json.loads((run_dir / "summary.json").read_text())
    if summary["status"] != "completed":
        raise RuntimeError(f"{run_dir}: status {summary['status']}: {summary.get('error')}")
    return seconds, summary


def ddp_part(mode: str, deadline: float) -> dict:
    sizes = SIZES[mode]
    devices = gpu_count()
    cases = ({"hardware=gpu (1 GPU)": ["hardware=gpu"], f"hardware=ddp ({devices} GPUs)": ["hardware=ddp"]}
             if mode == "gpu" else {"hardware=ddp_cpu (2 CPU ranks)": ["hardware=ddp_cpu", "hardware.threads=1"]})
    base = ["model=transformer", "data=reverse", *sizes["transformer"], *QUIET, "logger=none",
            "callbacks.checkpoint.save_best=false", "callbacks.checkpoint.save_last=false", "trainer.max_epochs=100000"]
    batch, length = (int(next(o for o in sizes["transformer"] if o.startswith(k)).split("=")[1])
                     for k in ("data.batch_size", "data.length"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, hardware in cases.items():
            runs = {}
            for steps in sizes["ddp_steps"]:
                run_dir = Path(tmp) / f"{len(rows)}_{steps}"
                runs[steps] = training_seconds([*base, *hardware, f"trainer.max_steps={steps}"], run_dir, deadline)
            row = {"case": name, "runs": {steps: {"command_s": s, "wall_time_s": summary["wall_time_s"],
                                                  "global_step": summary["global_step"]}
                                          for steps, (s, summary) in runs.items()}}
            if len(runs) == 2:  # the difference of two lengths: start-up and test cancel
                (short, (_, a)), (long, (_, b)) = sorted(runs.items())
                row["tokens_per_s"] = (long - short) * batch * length / (b["wall_time_s"] - a["wall_time_s"])
                print(f"  {name:28s} {row['tokens_per_s']:11.0f} tok/s (steps {short} -> {long})", flush=True)
            else:
                print(f"  {name:28s} ran: " + ", ".join(f"{s} steps in {v['command_s']:.1f} s"
                                                           for s, v in row["runs"].items()), flush=True)
            rows.append(row)
    return {"devices": devices, "rows": rows}


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


# ---- the driver ----

def run_part(part: str, mode: str, limit: float) -> dict:
    """One part in a child process with a time limit: its result, or why there is none."""
    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", part, "--mode", mode,
                   "--json", handle.name, "--limit", str(limit)]
        try:
            done = subprocess.run(command, timeout=limit + 30, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": str(REPO), "WANDB_MODE": "disabled"})
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {limit:.0f} s"}
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            return {"error": f"exit {done.returncode}: " + " ".join(done.stderr.split()[-60:])}
        return json.loads(Path(handle.name).read_text())


def child(part: str, mode: str, out: str, limit: float) -> int:
    deadline = time.perf_counter() + limit
    if part == "transformer":
        result = transformer_part(mode)
    elif part == "population":
        result = population_part(mode, deadline)
    else:
        result = ddp_part(mode, deadline)
    Path(out).write_text(json.dumps(result))
    return 0


def markdown(results: dict, header: str) -> str:
    lines = [f"```", header]
    transformer = results.get("transformer", {})
    for row in transformer.get("rows", []):
        if "skipped" in row or "error" in row:
            lines.append(f"transformer {row['setting']:22s} skipped: {row.get('skipped', row.get('error'))}")
            continue
        mfu = (f"   MFU hand {row['hand_mfu']:.1%} dlrun {row['dlrun_mfu']:.1%}" if "hand_mfu" in row else "")
        lines.append(f"transformer {row['setting']:22s} hand {row['hand_tokens_per_s']:11.0f} tok/s   dlrun "
                     f"{row['dlrun_tokens_per_s']:11.0f} tok/s   ratio {row['ratio']:.3f}{mfu}")
    population = results.get("population", {})
    if "population_s" in population:
        lines.append(f"population K={population['size']}: {population['population_s']:.1f} s "
                     f"({population['population_trials_per_min']:.1f} trials/min); sequential "
                     f"{population['sequential_trials_per_min']:.1f} trials/min; speedup about "
                     f"{population['speedup_estimate']:.1f}x; largest val/loss gap {population['largest_val_loss_gap']}")
    for row in results.get("ddp", {}).get("rows", []):
        lines.append(f"ddp {row['case']:28s} " + (f"{row['tokens_per_s']:11.0f} tok/s" if "tokens_per_s" in row
                                                  else "ran (smoke)"))
    for part, result in results.items():
        if "error" in result:
            lines.append(f"{part}: FAILED: {result['error'][:300]}")
    lines.append("```")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (the default without a GPU)")
    parser.add_argument("--part", action="append", choices=("transformer", "population", "ddp"))
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.mode, args.json, args.limit)
    import torch

    mode = "gpu" if torch.cuda.is_available() and not args.smoke else "smoke"
    device = torch.cuda.get_device_name() if mode == "gpu" else "CPU (smoke: tiny sizes, not a measurement)"
    header = (f"gpu.py on {device} x{max(gpu_count(), 1)}; torch {torch.__version__}; "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(header, flush=True)
    results, started = {}, time.perf_counter()
    for part in args.part or ("transformer", "population", "ddp"):
        limit = SIZES[mode]["limits"][part]
        if mode == "gpu":  # the whole check stays under its 8 minutes
            limit = min(limit, TOTAL_LIMIT_S - (time.perf_counter() - started) - 30)
            if limit < 30:
                results[part] = {"error": "skipped: the check's 8 minutes are spent"}
                continue
        print(f"{part} (limit {limit} s)", flush=True)
        results[part] = run_part(part, mode, limit)
        if "error" in results[part]:
            print(f"  FAILED: {results[part]['error'][:2000]}", flush=True)
    block = markdown(results, header)
    print("\nfor benchmarks/RESULTS.md:\n" + block)
    print("json: " + json.dumps({"header": header, "mode": mode, **results}))
    if args.out:
        args.out.write_text(json.dumps({"header": header, "mode": mode, **results}, indent=1))
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
