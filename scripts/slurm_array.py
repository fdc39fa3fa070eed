"""Submit a sweep as one SLURM array, one cell per task, and return at once.

Hydra's submitit launcher keeps the launching command alive until every job ends (hydra
#2479); for a grid of hundreds of cells this writes the cells as a job list and submits one
``sbatch --array`` instead. Each task runs ``python -m imbllm.cli <its cell's overrides>``, so a
cell already FINISHED in the store is skipped, both here (the job list holds only the cells
without a FINISHED run; ``--all`` lists every cell) and by the run itself (a cell that finished
after submission, or one claimed by a live run elsewhere), so a rerun of this script after an
interruption only repeats what is missing. A task exits as ``imbllm-bench`` does for one run (0
finished or skipped, 1 its run failed, 2 a configuration error: the batch script execs the
run), so the scheduler marks the task of a failed cell FAILED; this script itself exits 2 with
the same sentence when a cell's values are not valid, before it submits anything.

    python scripts/slurm_array.py experiment=paper_llm llm=distilgpt2 budget=paper
    python scripts/slurm_array.py dataset=german,fuel method=smote,random seed=0,1 \\
        hydra.launcher.partition=debug hydra.launcher.gpus_per_node=null --dry-run

The cells are expanded as ``imbllm-bench -m`` expands them (:func:`imbllm.cli.split_cells`:
the experiment's ``hydra.sweeper.params``, then the command line). The resources come from the same preset as
``hydra/launcher=slurm`` (partition, gpus_per_node, cpus_per_task, mem_gb, timeout_min,
array_parallelism, setup), overridable the same way (``hydra.launcher.<key>=...``).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

from imbllm.checks import CONFIG_ERROR_EXIT
from imbllm.cli import CONF_DIR, cell_configs, excluded, plain, split_cells
from imbllm.pipeline import tracker_for
from imbllm.runspec import RunSpec, run_key
from imbllm.validate_run import BAD_INPUT

#: Overrides that configure the submission, not a run.
_SUBMISSION = ("hydra.launcher.", "hydra/launcher=", "hydra.sweep.", "hydra.mode=")


def expand(overrides: list[str]) -> tuple[list[list[str]], object, object]:
    """The sweep's cells (each a list of overrides), the config the submission is composed
    from (its hydra.launcher is the preset), and the config of the first cell."""
    parser = OverridesParser.create()
    parsed = parser.parse_overrides(overrides)
    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    if not any(o.startswith("hydra/launcher=") for o in fixed):
        fixed.append("hydra/launcher=slurm")
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        base = compose("config", fixed, return_hydra_config=True)
        node = base.hydra.sweeper.get("params")
        params = OmegaConf.to_container(node, resolve=True) if node is not None else {}
        cells = [[o for o in cell if not o.startswith(_SUBMISSION)] for cell in split_cells(params, overrides)]
        first = compose("config", cells[0] + ["hydra/launcher=slurm"], return_hydra_config=True)
    return cells, base, first


def unfinished(cells: list[list[str]]) -> list[list[str]]:
    """The cells inside the sweep without a FINISHED run in their store (the store migrated and
    its claims table made on the way, once, before any task starts)."""
    out = []
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        for overrides, cfg in cell_configs("config", cells):
            d = plain(cfg)
            if excluded(d):
                continue
            spec = RunSpec.from_config(d)
            if spec.force or not tracker_for(spec).finished(run_key(spec)):
                out.append(overrides)
    return out


def sbatch_script(n: int, launcher, jobs: Path, python: str) -> str:
    """The array's batch script: SLURM options from the preset, then one cell per task."""
    opts = [f"--array=0-{n - 1}%{launcher.array_parallelism}", f"--output={jobs}/logs/%A_%a.out",
            f"--job-name={jobs.name}", f"--time={launcher.timeout_min}",
            f"--cpus-per-task={launcher.cpus_per_task or 1}"]
    if launcher.partition:
        opts.append(f"--partition={launcher.partition}")
    if launcher.gpus_per_node:
        opts.append(f"--gpus-per-node={launcher.gpus_per_node}")
    if launcher.mem_gb:
        opts.append(f"--mem={launcher.mem_gb}G")
    lines = ["#!/bin/bash", *(f"#SBATCH {o}" for o in opts), "set -euo pipefail",
             *(launcher.setup or [])]
    lines += [
        f'eval "set -- $(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" {shlex.quote(str(jobs / "cells.txt"))})"',
        f'exec {shlex.quote(python)} -m imbllm.cli "$@" hydra.mode=RUN '
        f"hydra.run.dir={shlex.quote(str(jobs))}/runs/$SLURM_ARRAY_TASK_ID",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("overrides", nargs="*", help="Hydra overrides, sweeps as a,b,c")
    ap.add_argument("--jobs-dir", type=Path, default=None,
                    help="where cells.txt, array.sh and logs go (default results/slurm/<time>)")
    ap.add_argument("--dry-run", action="store_true", help="write the job list, do not submit")
    ap.add_argument("--all", action="store_true", help="list every cell, finished or not (reads no store)")
    args = ap.parse_args(argv)

    try:
        cells, base, _ = expand(args.overrides)
        if not args.all:
            n = len(cells)
            cells = unfinished(cells)
            print(f"{n - len(cells)} of {n} cells finished or outside the sweep; {len(cells)} to run")
            if not cells:
                return 0
    except BAD_INPUT as exc:  # what imbllm-bench says and exits with, before anything is submitted
        print(f"slurm_array: {exc}", file=sys.stderr)
        return CONFIG_ERROR_EXIT
    jobs = (args.jobs_dir or Path("results/slurm") / time.strftime("%Y-%m-%d_%H-%M-%S")).resolve()
    (jobs / "logs").mkdir(parents=True, exist_ok=True)
    (jobs / "cells.txt").write_text("".join(shlex.join(c) + "\n" for c in cells))
    script = jobs / "array.sh"
    script.write_text(sbatch_script(len(cells), base.hydra.launcher, jobs, sys.executable))
    print(f"{len(cells)} cells -> {jobs / 'cells.txt'}")
    if args.dry_run:
        return 0
    out = subprocess.run(["sbatch", "--parsable", f"--chdir={Path.cwd()}", str(script)],
                         capture_output=True, text=True)
    if out.returncode:
        print(f"sbatch failed: {out.stderr.strip()}", file=sys.stderr)
        return out.returncode
    print(f"submitted array job {out.stdout.strip().split(';')[0]} ({len(cells)} tasks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
