"""Resumable training: the state a fine-tuning loop needs to go on after its process died.

A sweep loses its workers when a session, a node or a job's time limit ends, and pretraining
the compact backbone on a wide table takes most of an hour on 2 CPU cores. So the loop of
:func:`imbllm.llm.model.train.finetune` saves its state at the end of an epoch (at most once every
``every_seconds``) into a folder the model cache keeps beside the entry being trained, and
the next worker that trains the same entry starts from there. The state holds everything the
remaining epochs draw on (weights, optimiser, schedule, the loop's generator and torch's
global one, which dropout uses), so a resumed model equals one trained without a break.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch

log = logging.getLogger(__name__)

_STATE = "state.pt"


class TrainingCheckpoint:
    """The saved state of one training, in ``folder``.

    ``fingerprint`` (what the loop was asked to do: budget, seed, rows and steps) is stored
    with the state; a state saved for another fingerprint is ignored and overwritten.
    """

    def __init__(self, folder: str | Path, every_seconds: float = 300.0):
        if every_seconds < 0:
            raise ValueError(f"every_seconds={every_seconds!r} must be >= 0 (0 saves every epoch).")
        self.folder = Path(folder)
        self.every_seconds = float(every_seconds)
        self._last = None

    def load(self, fingerprint: dict) -> dict | None:
        """The saved state for ``fingerprint``, or None when there is none to resume."""
        path = self.folder / _STATE
        if not path.is_file():
            return None
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        # A damaged file (bad pickle, truncated archive, unreadable) costs the epochs it held,
        # not the run; any other error is a bug and propagates.
        except (OSError, EOFError, RuntimeError, pickle.UnpicklingError) as err:
            log.warning("Training state %s could not be read (%s); starting afresh.", path, err)
            return None
        if state.get("fingerprint") != fingerprint:
            log.warning("Training state %s belongs to another training; starting afresh.", path)
            return None
        log.info("Resuming training from %s at epoch %d.", path, state["epoch"])
        return state

    def due(self, now: float) -> bool:
        """Whether a state should be saved at time ``now`` (seconds, any monotonic clock)."""
        if self._last is None:
            self._last = now
        return now - self._last >= self.every_seconds

    def save(self, state: dict, now: float) -> None:
        """Write ``state`` in one step: a worker killed while saving keeps the older state."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".state-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(state, fh)
            os.replace(tmp, self.folder / _STATE)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._last = now

    def clear(self) -> None:
        """Remove the folder once the trained model is stored."""
        shutil.rmtree(self.folder, ignore_errors=True)
