"""Dataset specifications: one YAML file per dataset under ``conf/dataset/``.

The YAML is the single source of truth for a dataset's columns, target, binarisation,
expected counts and checksum; the Hydra entry point and the library read the same file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    numeric: list[str]
    categorical: list[str]
    target: str
    expected_rows: int
    expected_classes: dict[str, int]
    sha256: str | None = None
    file: str | None = None
    binarize: Binarize | None = None
    openml_id: int | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        """Numeric columns first, then categorical (the order SMOTE-NC indices rely on)."""
        return list(self.numeric) + list(self.categorical)

    @property
    def filename(self) -> str:
        return self.file or f"{self.name}.csv"

    @classmethod
    def from_dict(cls, d: dict) -> DatasetSpec:
        d = {k: v for k, v in dict(d).items() if not k.startswith("_")}
        b = d.pop("binarize", None)
        d["expected_classes"] = {str(k): int(v) for k, v in d["expected_classes"].items()}
        d["numeric"], d["categorical"] = list(d["numeric"]), list(d["categorical"])
        return cls(binarize=Binarize(**b) if b else None, **d)


def available_datasets() -> list[str]:
    """Names of the datasets that have a spec under ``conf/dataset``."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def get_spec(name: str) -> DatasetSpec:
    """Read ``conf/dataset/<name>.yaml``; unknown names list the valid ones."""
    path = CONF_DIR / f"{name}.yaml"
    if not path.exists():
        raise ValueError(
            f"Unknown dataset {name!r}. Available datasets: {', '.join(available_datasets())}."
        )
    with open(path) as fh:
        return DatasetSpec.from_dict(yaml.safe_load(fh))
