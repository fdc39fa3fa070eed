"""The engine's three rooms import one way: ``model/`` imports neither ``text/`` nor
``constrain/`` (imports inside functions and relative ones included), and ``text/`` and
``constrain/`` never load torch, each module checked in a fresh interpreter."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import imbllm.llm

ROOT = Path(imbllm.llm.__file__).parent
FORBIDDEN = ("imbllm.llm.text", "imbllm.llm.constrain")


def _modules(room: str) -> list[str]:
    return sorted(
        "imbllm.llm." + room + ("" if p.stem == "__init__" else "." + p.stem)
        for p in (ROOT / room).glob("*.py")
    )


def imported_names(path: Path, module: str) -> set[str]:
    """Every module ``path`` imports, anywhere in it, relative imports resolved against
    ``module`` (a package's ``__init__`` is its package), ``from a import b`` as ``a.b``."""
    package = module if path.stem == "__init__" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _reaches(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


@pytest.mark.parametrize("module", _modules("model"))
def test_the_model_room_imports_neither_text_nor_constrain(module):
    bad = sorted(n for n in imported_names(_path(module), module) if _reaches(n))
    assert not bad, f"{module} imports {bad}; the model room may not (hand it a mask object)"


def test_the_parser_sees_imports_in_functions_and_relative_ones(tmp_path):
    source = tmp_path / "sampling.py"
    source.write_text(
        "def f():\n    from imbllm.llm.constrain import bind\n"
        "from ..text import serialize\nfrom .. import constrain\n"
    )
    names = imported_names(source, "imbllm.llm.model.sampling")
    assert {"imbllm.llm.constrain.bind", "imbllm.llm.text.serialize",
            "imbllm.llm.constrain"} <= names
    assert all(_reaches(n) for n in names - {"imbllm.llm.text", "imbllm.llm"})


def _env() -> dict:
    path = os.pathsep.join(filter(None, [str(ROOT.parents[1]), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _path(module: str) -> Path:
    path = ROOT.parent.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


@pytest.mark.parametrize("module", _modules("text") + _modules("constrain"))
def test_text_and_constrain_name_no_torch_even_inside_functions(module):
    names = imported_names(_path(module), module)
    assert not [n for n in names if n == "torch" or n.startswith("torch.")], module


@pytest.mark.parametrize("module", _modules("text") + _modules("constrain"))
def test_text_and_constrain_modules_load_no_torch(module):
    code = f"import sys, {module}; sys.exit(3 if 'torch' in sys.modules else 0)"
    env = _env()
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 3, f"importing {module} loads torch"
    assert done.returncode == 0, done.stderr


def test_the_torch_check_fails_on_a_module_that_loads_torch():
    pytest.importorskip("torch")
    code = "import sys, imbllm.llm.model.device; sys.exit(3 if 'torch' in sys.modules else 0)"
    env = _env()
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 3
