"""Freeze an own table as a dataset spec: what the harness inferred, written as a YAML.

    python scripts/freeze_dataset.py --file table.csv --target label --name mytable
    python scripts/freeze_dataset.py --file prices.csv --target price --threshold 2500 --drop id
    python scripts/freeze_dataset.py --openml-id 37 --name diabetes

It loads the table as ``dataset=csv`` / ``dataset=openml`` does, prints the inferred schema,
and writes ``conf/dataset/<name>.yaml`` (or ``--out``): columns, target, binarisation, the
file's checksum and the expected row and class counts. From then on ``dataset=<name>`` loads
and verifies that exact table (a changed file fails on its checksum), like the paper's ten.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import datetime, timezone
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.data import DatasetError, DatasetSpec, describe, load_dataset  # noqa: E402
from imbllm.data.spec import CONF_DIR  # noqa: E402


def frozen_spec(spec: DatasetSpec, report: dict, name: str | None) -> DatasetSpec:
    """The registered form of an inferred spec: verified against its file and counts."""
    note = (f"Frozen from {spec.source} {spec.file} on {datetime.now(timezone.utc):%Y-%m-%d}; "
            f"{report['rows_dropped_missing']} of {report['rows_read']} rows dropped for missing values.")
    return dataclasses.replace(spec, name=name or spec.name, source="registered", notes=note,
                               file=str(Path(spec.file).resolve()), drop=[])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--file", help="a CSV table")
    src.add_argument("--openml-id", type=int, help="an OpenML dataset id")
    ap.add_argument("--target", help="the label column (OpenML: default target when omitted)")
    ap.add_argument("--name", help="the dataset's name (default: the file's name)")
    ap.add_argument("--threshold", type=float, help="binarise a numeric target: >= threshold is 'high'")
    ap.add_argument("--numeric", nargs="*", help="force these columns numeric")
    ap.add_argument("--categorical", nargs="*", help="force these columns categorical")
    ap.add_argument("--drop", nargs="*", default=[], help="leave these columns out")
    ap.add_argument("--cache-dir", help="OpenML download folder")
    ap.add_argument("--out", help="where to write the YAML (default: conf/dataset/<name>.yaml)")
    args = ap.parse_args(argv)
    spec = DatasetSpec.from_dict({
        "source": "csv" if args.file else "openml", "file": args.file, "openml_id": args.openml_id,
        "name": args.name, "target": args.target, "threshold": args.threshold,
        "numeric": args.numeric, "categorical": args.categorical, "drop": args.drop,
    })
    try:
        ds = load_dataset(spec, cache_dir=args.cache_dir)
    except DatasetError as exc:
        print(f"freeze_dataset: {exc}", file=sys.stderr)
        return 2
    print(describe(ds.spec, ds.report))
    frozen = frozen_spec(ds.spec, ds.report, args.name)
    out = Path(args.out) if args.out else CONF_DIR / f"{frozen.name}.yaml"
    body = yaml.safe_dump(frozen.to_dict(), sort_keys=False, allow_unicode=True)
    out.write_text(f"# {frozen.name}: frozen by scripts/freeze_dataset.py; use it as dataset={frozen.name}.\n" + body)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
