"""The report's figures per dataset: ``dum`` per method and a t-SNE of real and synthetic rows.

The t-SNE needs each run's synthetic rows (its MLflow ``synthetic.csv`` artifact) and the real
minority rows (the split rebuilt from the dataset); :func:`section` takes stand-ins for both
so that tests need neither MLflow nor the data mirror.
"""

from __future__ import annotations

import logging

import pandas as pd

from imbllm.analysis import figures
from imbllm.results import method_order

log = logging.getLogger(__name__)


def section(synth, fig_dir, opt, ratio, load_synthetic, load_real) -> list[str]:
    """Markdown of the figures of every dataset in ``synth``, written under ``fig_dir``.

    ``opt`` is the report's :class:`~imbllm.analysis.report.ReportOptions`; ``load_synthetic``
    and ``load_real`` as in :func:`~imbllm.analysis.report.build_report` (None: the MLflow
    artifact and the rebuilt split).
    """
    md = [] if opt.embeddings else [
        "Per dataset, `dum` per method. The t-SNE figures of real and synthetic rows are left "
        "out of this build: it was asked for without them (`--no-embeddings`) or built from run "
        "records, which do not hold the synthetic rows; a build from the tracking store draws "
        "them.\n"]
    for dataset in sorted(synth["dataset"].unique()):
        sub = synth[synth["dataset"] == dataset]
        md.append(f"### {dataset}\n")
        figures.dum_bars(sub, dataset, fig_dir / f"dum_{dataset}.png", highlight=opt.reference)
        md.append(f"![dum per method on {dataset}](figures/dum_{dataset}.png)\n")
        if not opt.embeddings:
            continue
        seed = int(sub["seed"].min())
        picked = sub[sub["seed"] == seed].sort_values(["method", "classifier"])
        picked = picked.drop_duplicates("method").set_index("method", drop=False)
        picked = picked.loc[method_order(picked.index)]
        load_s = load_synthetic or _download_synthetic
        R, U, numeric, categorical = (load_real or _rebuild_real)(dataset, seed, ratio)
        S, missing = {}, []
        for row in picked.itertuples(index=False):
            frame = load_s(pd.Series(row._asdict()))
            if frame is None or len(frame) == 0:
                missing.append(row.method)
            else:
                S[row.method] = frame
        if missing:
            md.append(f"No synthetic rows could be read for: {', '.join(missing)}.\n")
        name = f"embedding_{dataset}.png"
        figures.embedding(R, U, S, numeric, categorical, fig_dir / name, n_points=opt.n_points,
                          title=f"{dataset}, seed {seed}: real training minority (grey), test "
                          "minority (blue), synthetic rows (orange)")
        md.append(f"![t-SNE of {dataset}](figures/{name})\n")
    return md


def _download_synthetic(run: pd.Series) -> pd.DataFrame | None:
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        path = mlflow.artifacts.download_artifacts(
            artifact_uri=f"{run['artifact_uri']}/synthetic.csv")
    except (MlflowException, OSError) as err:
        # The report says which methods lack rows; the other figures are still right.
        log.warning("run %s (%s): no synthetic.csv artifact (%s)", run["run_id"], run["method"],
                    err)
        return None
    # Everything as text: categorical codes such as "01" must not turn into numbers.
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _rebuild_real(dataset: str, seed: int, ratio: float):
    from imbllm.data import load_dataset
    from imbllm.protocol import make_split

    data = load_dataset(dataset)
    split = make_split(data.X, data.y, seed=seed, ratio=ratio)
    R = split.X_imb[split.y_imb == split.minority]
    U = split.X_test[split.y_test == split.minority]
    return R, U, list(data.spec.numeric), list(data.spec.categorical)
