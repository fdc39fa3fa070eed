"""An oversampler for the exit-code tests: it passes every check made before a run opens (it is
SMOTE, arguments and all) and fails while running, on seed 1 only, so one cell of a sweep fails."""

from baselines.classical import SMOTE


class FailsOnSeedOne(SMOTE):
    """SMOTE, except that ``fit_resample`` raises on ``random_state=1``."""

    def _generate(self, X, y, n):
        if self.random_state == 1:
            raise RuntimeError("FailsOnSeedOne stops on seed 1 by design (a test of exit codes).")
        return super()._generate(X, y, n)
