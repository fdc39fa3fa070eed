"""``imbllm-bench``: the Hydra entry point (the only module that knows about Hydra).

Examples
--------
Single run::

    imbllm-bench dataset=german method=smote_nc classifier=xgboost ratio=0.2 seed=0 protocol=published

Sweep (``-m``), a named experiment, or your own table::

    imbllm-bench -m dataset=german,fuel method=smote,adasyn seed=0,1,2
    imbllm-bench experiment=quickstart
    imbllm-bench dataset=csv dataset.file=table.csv dataset.target=label method=smote

Every configuration error is found before a run opens: the whole configuration of a single
run, and every cell of a sweep (:class:`CheckSweep`, a Hydra callback that runs before the
sweeper launches anything). It is printed as one sentence and the command exits with code 2,
leaving the tracking store untouched.

A run that fails while running is recorded FAILED and the command exits with code 1, its error
printed as one sentence (``HYDRA_FULL_ERROR=1`` shows the traceback). A sweep goes on past a
failed cell (``continue_on_error=false`` stops it there), ends with one line counting what its
cells came to (:mod:`imbllm.outcomes`) and exits with code 1 if any cell failed.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from imbllm.checks import CONFIG_ERROR_EXIT, ConfigError
from imbllm.data import DatasetError, describe
from imbllm.outcomes import RUN_FAILED_EXIT, sweep_outcome
from imbllm.pipeline import claims_for, dataset_for, run_spec
from imbllm.runspec import RunSpec
from imbllm.validate_run import BAD_INPUT, check_cell

log = logging.getLogger("imbllm")

#: The checkout's conf/ (absolute: Hydra resolves relative paths against the package).
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@dataclass
class Cell:
    """A checked run: its spec and the factories of its sampler and classifier."""

    spec: RunSpec
    make_sampler: partial
    make_classifier: partial


def plain(cfg: DictConfig) -> dict:
    """The resolved configuration as plain Python; an unset ``???`` value is a ConfigError."""
    try:
        return OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as exc:
        key = exc.full_key or "?"
        raise ConfigError(key, "???", f"set it on the command line: {key}=<value>") from None


def excluded(d: dict) -> bool:
    """Whether the cell is outside its sweep (``sweep_exclude``, e.g. ``${grid.exclude}``)."""
    names = {"dataset": d["dataset"]["name"], "method": d["method"]["name"],
             "classifier": d["classifier"]["name"], "protocol": d["protocol"]["mode"], "seed": d["seed"]}
    for rule in d.get("sweep_exclude") or []:
        if all(str(names.get(k)) in str(v).split(",") for k, v in rule.items()):
            return True
    return False


def build(cfg: DictConfig) -> Cell | None:
    """Check one composed configuration and build its cell (None: outside the grid)."""
    d = plain(cfg)
    if excluded(d):
        return None
    spec = RunSpec.from_config(d)
    cell = Cell(spec, partial(instantiate, d["method"]["sampler"], _convert_="all"),
                partial(instantiate, d["classifier"]["model"]))
    raw = OmegaConf.to_container(cfg.method.sampler, resolve=False)  # names the keys in errors
    check_cell(cell.spec, cell.make_sampler, cell.make_classifier, dataset_for(spec), raw)
    return cell


def _exit_with(exc: BaseException) -> None:
    print(f"imbllm-bench: {exc}", file=sys.stderr)
    raise SystemExit(CONFIG_ERROR_EXIT)


def split_cells(params: dict, overrides: list[str]) -> list[list[str]]:
    """The override list of every job the basic sweeper launches for its ``params`` (the
    experiment's ``hydra.sweeper.params``) and the command line's ``overrides``."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    args = [f"{k}={v}" for k, v in params.items()] + list(overrides)
    return BasicSweeper.split_arguments(OverridesParser.create().parse_overrides(args), None)[0]


def sweep_cells(config: DictConfig) -> list[list[str]]:
    """The override list of every job the basic sweeper will launch for ``config``."""
    node = config.hydra.sweeper.get("params")
    params = OmegaConf.to_container(node, resolve=True) if node is not None else {}
    return split_cells(params, config.hydra.overrides.task)


def _is_value(o, groups: set[str]) -> bool:
    # A plain `key=value` on a config value (not a group choice, not hydra's, no +/~ prefix).
    key = o.key_or_group
    return o.package is None and not o.is_add() and not o.is_delete() and not o.is_force_add() \
        and "/" not in key and not key.startswith("hydra") and key not in groups


def cell_configs(config_name: str, cells: list[list[str]]):
    """``(overrides, composed config)`` of every cell, composing each choice of groups once.

    Cells that differ only in plain values (``seed=1``) share one composition, the values set
    on a copy; composing is what costs (Hydra's defaults tree), not the copy.
    """
    from hydra import compose

    parser = OverridesParser.create()
    groups = {p.name for p in Path(CONF_DIR).iterdir() if p.is_dir()}
    composed: dict[tuple, DictConfig] = {}
    for overrides in cells:
        parsed = parser.parse_overrides(overrides)
        choice = tuple(o.input_line for o in parsed if not _is_value(o, groups))
        try:
            if choice not in composed:
                composed[choice] = compose(config_name=config_name, overrides=list(choice))
            cfg = composed[choice].copy()
            for o in parsed:
                if _is_value(o, groups):
                    OmegaConf.update(cfg, o.key_or_group, o.value(), merge=False)
        except Exception:  # let Hydra compose it whole and say what is wrong in its words
            cfg = compose(config_name=config_name, overrides=overrides)
        yield overrides, cfg


class CheckSweep(Callback):
    """Check every cell of a sweep before the first run opens, and say at the end what the
    cells came to (``hydra.callbacks``).

    Runs at ``on_multirun_start``, before the sweeper or launcher starts anything, so a bad
    cell anywhere in the grid stops the sweep with one sentence and exit code 2, on any
    launcher. Datasets and estimator checks are shared between cells, so a large grid costs
    about one composition per cell. At ``on_multirun_end`` (in the launching process, after
    every job) it prints one line read from the tracking store and exits with code 1 if a cell
    failed.
    """

    def __init__(self) -> None:
        self.specs: list[RunSpec] | None = None
        self.since_ms = 0

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        # Before anything runs: the runs of this launch are those started from here on.
        self.since_ms = int(time.time() * 1000)
        if not str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
            log.warning("not checking the sweep's cells: only the basic sweeper's grid is known")
            return
        name = kwargs.get("config_name") or "config"
        specs = []
        for overrides, cfg in cell_configs(name, sweep_cells(config)):
            try:
                cell = build(cfg)
            except BAD_INPUT as exc:
                _exit_with(_in_cell(exc, overrides))
            if cell is not None:
                specs.append(cell.spec)
                _show_schema(cell.spec)
        log.info("checked %d runs of the sweep", len(specs))
        for spec in {(s.tracking_uri, s.claims_uri): s for s in specs}.values():
            claims_for(spec)  # migrate the store and make the claims table before work fans out
        self.specs = specs

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        if self.specs is None:
            return
        # Hydra turns an exception raised here into a warning and exits 0; SystemExit passes.
        try:
            outcome = sweep_outcome(self.specs, self.since_ms)
        except Exception as exc:  # the store unreadable: the sweep cannot say it succeeded
            print(f"imbllm-bench: the sweep ended but its runs could not be read from the "
                  f"tracking store ({exc}); look at its FAILED runs before trusting it.", file=sys.stderr)
            raise SystemExit(RUN_FAILED_EXIT) from None
        print(f"imbllm-bench: {outcome.line()}", file=sys.stderr if outcome.failed else sys.stdout)
        if outcome.failed:
            raise SystemExit(RUN_FAILED_EXIT)


def _in_cell(exc: BaseException, overrides: list[str]) -> Exception:
    return type(exc)(f"{exc} (in the sweep's cell {' '.join(overrides)})") if isinstance(exc, DatasetError) else exc


_SHOWN: set[str] = set()


def _show_schema(spec: RunSpec) -> None:
    """Print what was inferred about an own table (once per table and process)."""
    ds = dataset_for(spec)
    if ds.report is not None and ds.path not in _SHOWN:
        _SHOWN.add(ds.path)
        print(describe(ds.spec, ds.report))


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        cell = build(cfg)
    except BAD_INPUT as exc:
        _exit_with(exc)
    if cell is None:
        log.info("skip: this cell is outside the sweep (sweep_exclude)")
        return
    _show_schema(cell.spec)
    try:
        run_spec(cell.spec, cell.make_sampler, cell.make_classifier)
    except Exception as exc:
        _run_failed(exc, cell.spec, cfg.continue_on_error)


def _run_failed(exc: Exception, spec: RunSpec, continue_on_error: bool) -> None:
    """A run that raised while running (``run_spec`` recorded it FAILED with its sentence)."""
    sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if sweep and continue_on_error:
        # The sweep goes on; its last line names this cell and the command exits 1.
        log.exception("%s failed (recorded FAILED in the tracking store); the sweep goes on", spec.name)
        return
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise exc
    sentence = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    if sweep:
        sentence = sentence.rstrip(".") + "; the sweep stops here (continue_on_error=false)."
    print(f"imbllm-bench: run {spec.name} failed (recorded FAILED in the tracking store): {sentence}",
          file=sys.stderr)
    # SystemExit, not the error: Hydra's job runner would catch an Exception and go on with the
    # sweep's batch; SystemExit stops the sweep at once, on the default and the local launcher.
    raise SystemExit(RUN_FAILED_EXIT)


if __name__ == "__main__":  # pragma: no cover
    main()
