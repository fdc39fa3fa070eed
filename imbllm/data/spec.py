"""Dataset specifications: one YAML file per dataset under ``conf/dataset/``.

The YAML is the single source of truth for a dataset's columns, target, binarisation,
expected counts and checksum; the Hydra entry point and the library read the same file.

A *registered* spec (the paper's ten) is verified against its counts and checksum. A ``csv``
or ``openml`` spec describes a researcher's own table: columns and counts may be left out
and are inferred when it is loaded (:mod:`imbllm.data.infer`); the inferred spec can be
written out as a registered YAML to freeze it (``scripts/freeze_dataset.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

#: ``conf/dataset`` of this checkout (the package is installed editable from the repo).
CONF_DIR = Path(__file__).resolve().parents[2] / "conf" / "dataset"


@dataclass(frozen=True)
class Binarize:
    """``target >= threshold`` becomes ``above``, else ``below`` (after dropping NaN rows)."""

    threshold: float
    above: str = "high"
    below: str = "low"


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loader needs to build and verify one benchmark table.

    Keys of ``conf/dataset/<name>.yaml`` are these argument names.
    """

    name: str
    numeric: list[str] | None
    categorical: list[str] | None
    target: str
    expected_rows: int | None = None
    expected_classes: dict[str, int] | None = None
    sha256: str | None = None
    file: str | None = None
    binarize: Binarize | None = None
    openml_id: int | None = None
    notes: str = ""
    #: "registered" (verified against counts and checksum), "csv" or "openml" (inferred).
    source: str = "registered"
    #: Columns of the file left out (own tables only; registered specs list what they use).
    drop: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Numeric columns first, then categorical (the order SMOTE-NC indices rely on)."""
        return list(self.numeric) + list(self.categorical)

    @property
    def filename(self) -> str:
        return self.file or f"{self.name}.csv"

    @property
    def inferred(self) -> bool:
        """Whether the columns and counts are learned from the table (an own table)."""
        return self.source != "registered"

    def identity(self) -> dict:
        """What decides this dataset's rows: its name when registered (the loader verifies the
        file), else the table's source and content digest and every choice made on it."""
        if not self.inferred:
            return {"name": self.name}
        out = {"source": self.source, "sha256": self.sha256, "openml_id": self.openml_id,
               "target": self.target, "numeric": self.numeric, "categorical": self.categorical,
               "drop": list(self.drop)}
        if self.binarize is not None:
            out["binarize"] = asdict(self.binarize)
        return out

    def to_dict(self) -> dict:
        """The YAML form (``conf/dataset/<name>.yaml``) of this spec."""
        out = {k: v for k, v in asdict(self).items() if k != "extra" and v not in (None, [], {}, "")}
        if self.source == "registered":
            out.pop("source", None)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSpec:
        d = {k: v for k, v in dict(d).items() if not k.startswith("_")}
        b = d.pop("binarize", None)
        threshold = d.pop("threshold", None)  # own tables: dataset.threshold=<cut-off>
        if threshold is not None:
            b = {"threshold": threshold, "above": d.pop("above", "high"), "below": d.pop("below", "low")}
        d.pop("above", None), d.pop("below", None)
        if d.get("expected_classes") is not None:
            d["expected_classes"] = {str(k): int(v) for k, v in d["expected_classes"].items()}
        for k in ("numeric", "categorical", "drop"):
            d[k] = list(d[k]) if d.get(k) is not None else None
        d["drop"] = d.get("drop") or []
        if not d.get("name"):  # own tables: named after the file or the OpenML id
            d["name"] = Path(str(d.get("file"))).stem if d.get("file") else f"openml_{d.get('openml_id')}"
        return cls(binarize=Binarize(**b) if b else None, **d)


def available_datasets() -> list[str]:
    """Names of the registered datasets under ``conf/dataset`` (not the own-table templates)."""
    return sorted(
        p.stem for p in CONF_DIR.glob("*.yaml")
        if (yaml.safe_load(p.read_text()) or {}).get("source", "registered") == "registered"
    )


def get_spec(name: str) -> DatasetSpec:
    """Read ``conf/dataset/<name>.yaml``; unknown names list the valid ones."""
    path = CONF_DIR / f"{name}.yaml"
    if not path.exists():
        raise ValueError(
            f"Unknown dataset {name!r}. Available datasets: {', '.join(available_datasets())}."
        )
    with open(path) as fh:
        return DatasetSpec.from_dict(yaml.safe_load(fh))
