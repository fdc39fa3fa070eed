"""Optional heavy dependencies, imported at use with a message naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, extra: str, needs: str) -> ModuleType:
    """``module`` imported, or an ImportError saying that ``needs`` and which extra brings it.

    >>> require("json", "report", "Nothing").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{needs} need {module}; install the extra: pip install 'imbllm[{extra}]'."
        ) from err
