"""The methods the analysis knows, read from their own configs (``conf/method/*.yaml``).

Beside its sampler, each method's YAML says how the report and the tables place it: its
``role`` (:data:`ROLES`), the method it varies (``of``), the text the report shows for it
(``label``), the before/after comparison it is the before side of (``change``) and its
place in tables (``order``); its ``family`` and ``train_on`` it already has. These fields
(:data:`REGISTRY_FIELDS`) decide no result, so they stay out of the run key
(:func:`imbllm.runspec.key_material`). A method added as a YAML file takes its place in the
report and the tables without a code edit.

The folder is this checkout's ``conf/``, or ``$IMBLLM_CONF_DIR`` where set (a copy of
``conf/`` with methods of your own). Plain YAML, no Hydra: a method's own file gives its
registry fields (a variant composed from ImbLLM's file is not ImbLLM); ``family`` and
``train_on`` are also looked for in the files its ``defaults`` list includes.

    >>> reg = methods()
    >>> reg.order(["imbllm", "smote", "mine", "standard"])
    ['standard', 'smote', 'imbllm', 'mine']
    >>> reg.role("baseline")[:3]
    ('smote', 'smote_nc', 'adasyn')
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

#: The checkout's config folder (the one imbllm-bench composes).
CONF_DIR = Path(__file__).resolve().parents[1] / "conf"
#: What each role means to the analysis (``role:`` in conf/method/<name>.yaml).
ROLES = {
    "proposed": "the method under study, compared with every other",
    "baseline": "one of the paper's baselines: its claims are tested against these",
    "reference": "a reference row: no oversampling, or the split before the cut (an upper "
                 "bound, never ranked, where it trains on the full split)",
    "beyond": "a generator beyond the paper's: ranked with the others, outside its claims",
    "contender": "a generator from after the paper: set against the proposed method with the "
                 "paper's methods in a section of its own, outside the paper's comparison",
    "ablation": "the method `of` without one component (`label`: the component)",
    "before": "the method `of` before one of its fixes (`change`: what the fix changed)",
    "peer_check": "another implementation of the method `of` (`change`: the two sides)",
}
#: Roles of a variant of another method: set against it in its own section, out of the
#: pooled ranks and tests.
VARIANT_ROLES = ("ablation", "before", "peer_check")
#: The fields the analysis reads and the run key leaves out.
REGISTRY_FIELDS = ("role", "of", "label", "change", "order")


@dataclass(frozen=True)
class Method:
    """One method as the analysis sees it."""

    name: str
    role: str
    order: float
    family: str = "classical"
    train_on: str = "imbalanced"
    of: str | None = None
    label: str | None = None
    change: str | None = None

    @property
    def title(self) -> str:
        """The text the report shows for the method (its ``label``, else its name)."""
        return self.label or self.name

    @property
    def upper_bound(self) -> bool:
        """A reference row trained on the full split: never ranked, never marked best."""
        return self.role == "reference" and self.train_on == "full_split"


@dataclass(frozen=True)
class Methods:
    """Every method of a config folder, by name."""

    by_name: dict[str, Method]

    def order(self, names: Iterable[str]) -> list[str]:
        """``names`` in table order (``order``); names without a config last, sorted."""
        names = set(names)
        known = sorted((m for m in names if m in self.by_name),
                       key=lambda m: (self.by_name[m].order, m))
        return known + sorted(names - set(self.by_name))

    def role(self, role: str) -> tuple[str, ...]:
        """The methods of one role, in table order."""
        return tuple(self.order(m.name for m in self.by_name.values() if m.role == role))

    @property
    def proposed(self) -> str:
        """The one method under study."""
        found = self.role("proposed")
        if len(found) != 1:
            raise ValueError(f"The method registry needs one method of role proposed, found "
                             f"{list(found) or 'none'}; set `role: proposed` in one method's "
                             "YAML.")
        return found[0]

    @property
    def upper_bounds(self) -> tuple[str, ...]:
        """Reference rows never ranked nor marked best (see :attr:`Method.upper_bound`)."""
        return tuple(self.order(m.name for m in self.by_name.values() if m.upper_bound))

    @property
    def variants(self) -> tuple[str, ...]:
        """Variants of another method (:data:`VARIANT_ROLES`), in table order."""
        return tuple(self.order(m.name for m in self.by_name.values()
                                if m.role in VARIANT_ROLES))

    def ablations(self, of: str) -> dict[str, str]:
        """The ablations of ``of`` and the component each removes, in table order."""
        return {a: self.by_name[a].title for a in self.role("ablation")
                if self.by_name[a].of == of}

    def pairs(self) -> list[tuple[str, str, str]]:
        """``(title, before, after)`` of every before/after comparison: each method with a
        ``change`` against the method it is ``of``, in the before's table order."""
        out = []
        for name in self.order(self.by_name):
            m = self.by_name[name]
            if m.change:
                out.append((f"{self.title(m.of)}, {m.change}", name, m.of))
        return out

    def title(self, name: str) -> str:
        """The report's text for ``name`` (its name where it has no config)."""
        return self.by_name[name].title if name in self.by_name else name


def conf_dir() -> Path:
    """``$IMBLLM_CONF_DIR`` where set, else the checkout's ``conf/``."""
    return Path(os.environ.get("IMBLLM_CONF_DIR") or CONF_DIR)


def methods(folder: str | Path | None = None) -> Methods:
    """The registry of ``folder/method/*.yaml`` (default :func:`conf_dir`), read once per
    version of its files."""
    method_dir = Path(folder or conf_dir()) / "method"
    if not method_dir.is_dir():
        raise FileNotFoundError(
            f"The method registry reads {method_dir}, which is not a folder; point "
            "IMBLLM_CONF_DIR at a config folder holding method/<name>.yaml.")
    files = sorted(method_dir.glob("*.yaml"))
    return _read(method_dir, tuple((p.name, p.stat().st_mtime_ns) for p in files))


@functools.lru_cache(maxsize=8)
def _read(method_dir: Path, stamp: tuple) -> Methods:
    by_name = {}
    for file_name, _ in stamp:
        m = _method(method_dir, method_dir / file_name)
        by_name[m.name] = m
    for m in by_name.values():
        if m.of is not None and m.of not in by_name:
            raise ValueError(f"{method_dir / m.name}.yaml: of={m.of!r} names no method of "
                             f"{method_dir}; set `of:` to the method this {m.role} varies.")
    return Methods(by_name)


def _method(method_dir: Path, path: Path) -> Method:
    own = _load(path)
    name = own.get("name", path.stem)
    role = own.get("role")
    if role not in ROLES:
        raise ValueError(f"{path}: role={role!r} is not one of {', '.join(ROLES)}; add "
                         "`role:` to say how the report places the method.")
    if not isinstance(own.get("order"), int | float) or isinstance(own.get("order"), bool):
        raise ValueError(f"{path}: order={own.get('order')!r} is not a number; add `order:` "
                         "(its place in tables, e.g. 125 to come after imbllm's 120).")
    needs = {"ablation": ("of", "label"), "before": ("of", "change"),
             "peer_check": ("of", "change")}.get(role, ())
    for key in needs:
        if not own.get(key):
            raise ValueError(f"{path}: a method of role {role} needs `{key}:` "
                             f"({ROLES[role]}).")
    if own.get("change") and not own.get("of"):
        raise ValueError(f"{path}: change={own['change']!r} needs `of:`, the method on the "
                         "after side of the comparison.")
    return Method(name=name, role=role, order=own["order"],
                  family=_inherited(method_dir, own, "family", "classical"),
                  train_on=_inherited(method_dir, own, "train_on", "imbalanced"),
                  of=own.get("of"), label=own.get("label"), change=own.get("change"))


def _load(path: Path) -> dict:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a {type(data).__name__}, not a mapping of keys; "
                         "write the method's config as `key: value` lines.")
    return data


def _inherited(method_dir: Path, own: dict, key: str, default: str, depth: int = 0) -> str:
    """``key`` from the file itself, else from the files its ``defaults`` include (the last
    that sets it wins, as in Hydra's merge with ``_self_`` last)."""
    if key in own:
        return own[key]
    found = default
    for entry in own.get("defaults") or []:
        if not isinstance(entry, str) or entry == "_self_" or depth > 8:
            continue
        included = method_dir / f"{entry.split('@')[0]}.yaml"
        if included.is_file():
            found = _inherited(method_dir, _load(included), key, found, depth + 1)
    return found
