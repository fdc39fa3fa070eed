"""The one error the data layer raises (its own module so every data module can raise it)."""


class DatasetError(RuntimeError):
    """A dataset could not be found, read, fetched or verified; the message is one sentence."""
