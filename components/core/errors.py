"""Errors that reach the user: they name the thing that is wrong and say what to do."""


class TfpipeError(Exception):
    """A failure with a message meant for the person running the pipeline (no traceback needed)."""


class ParameterError(TfpipeError):
    """A component or pipeline parameter failed validation."""


class InputDataError(TfpipeError):
    """Input data is missing, empty, or does not match what was expected."""


class NothingToCommit(TfpipeError):
    """This process did its part of a job whose artifact another process commits (a non-chief
    task of a training cluster). Not a failure. ``summary``: what its part did (steps trained),
    reported in its result since no artifact keeps it."""

    def __init__(self, message: str, summary: dict | None = None) -> None:
        super().__init__(message)
        self.summary = dict(summary or {})


class UserCodeError(TfpipeError):
    """A function from the user's module raised or returned something unusable."""
