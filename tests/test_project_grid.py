"""scripts/project_grid.py on hand-built run records: stage sums, ratios and the projection."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from project_grid import main, project, ratios, stages  # noqa: E402


def _run(run, pre=0.0, pre_tok=0, pre_hit=1, fit=0.0, fit_tok=0, fit_hit=1, sample=0.0,
         resample_hit=0, protocol="corrected"):
    return dict(run_seconds=run, pretrain_seconds=pre, pretrain_tokens=pre_tok,
                pretrain_cache_hit=pre_hit, lm_fit_seconds=fit, train_tokens=fit_tok,
                cache_hit=fit_hit, sample_seconds=sample, resample_cache_hit=resample_hit,
                protocol=protocol)


def _records(scale_train=1.0, scale_sample=1.0):
    return pd.DataFrame([
        # pays pretraining (1,000 tokens) and fine-tuning (500), samples
        _run(100, pre=40 * scale_train, pre_tok=1000, pre_hit=0, fit=20 * scale_train,
             fit_tok=500, fit_hit=0, sample=30 * scale_sample),
        # loads both from the cache, samples
        _run(50, pre=0.5, pre_tok=1000, fit=0.5, fit_tok=500, sample=30 * scale_sample),
        # reuses another cell's oversampled set: its logged stage seconds are not paid again
        _run(10, pre=40, pre_tok=1000, pre_hit=0, fit=20, fit_tok=500, fit_hit=0, sample=30,
             resample_hit=1),
    ])


def test_stages_count_only_what_a_run_paid():
    s = stages(_records())
    assert s["run"] == 160
    assert (s["pretrain"], s["pretrain_tokens"]) == (40, 1000)
    assert (s["fit"], s["fit_tokens"]) == (20, 500)
    assert s["sample"] == 60
    assert s["rest"] == 160 - 40 - 20 - 60


def test_ratios_and_a_capped_projection_by_hand():
    before = stages(_records())
    after = stages(_records(scale_train=0.5, scale_sample=0.8))
    r = ratios(before, after)
    assert r["pretrain"] == pytest.approx(0.5) and r["fit"] == pytest.approx(0.5)
    assert r["sample"] == pytest.approx(0.8)
    # run seconds unchanged in the after records, so the rest grows by what the stages saved
    assert r["rest"] == pytest.approx((160 - 20 - 10 - 48) / 40)
    grid = _records()
    p = project(grid, r, pretrain_cap=250, fit_cap=None)
    # pretraining: 40 s x 0.5 (per token) x 250/1000 (the cap); fine-tuning 20 x 0.5
    assert p["projected"]["pretrain"] == pytest.approx(5.0)
    assert p["projected"]["fit"] == pytest.approx(10.0)
    assert p["projected"]["sample"] == pytest.approx(48.0)
    assert p["projected"]["run"] == pytest.approx(5 + 10 + 48 + 40 * r["rest"])


def test_the_script_prints_the_share_of_todays_time(tmp_path, capsys):
    paths = {}
    after = _records(scale_train=0.5)
    after.loc[0, "run_seconds"] -= 30  # the 30 s the training stages saved
    for name, frame in (("grid", _records()), ("before", _records()), ("after", after)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    main(["--grid", str(paths["grid"]), "--before", str(paths["before"]), "--after",
          str(paths["after"]), "--pretrain-cap", "500"])
    last = capsys.readouterr().out.strip().splitlines()[-1]
    # 160 s recorded: pretraining 40 x 0.5 x 500/1000, fine-tuning 20 x 0.5, sampling 60 and
    # the rest 40 as they were: 10 + 10 + 60 + 40 = 120 s.
    assert last.endswith("0.03 h = 0.750 of today's (over the half asked)")
