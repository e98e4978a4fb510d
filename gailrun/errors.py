"""User-facing errors.

Every error a user can cause (bad files, bad values, diverging runs) is a `GailrunError` whose message is one
line naming the problem and the fix. The CLI prints it without a traceback and exits with code 1.
"""


class GailrunError(Exception):
    """A problem the user can fix; the message says what it is and how."""


class CheckpointError(GailrunError):
    """A checkpoint is missing, corrupt, foreign, untrusted or does not fit the request."""


class DataError(GailrunError):
    """An expert dataset is missing, malformed or does not match the environment."""


class DivergenceError(GailrunError):
    """A loss, gradient or observation became non-finite during training."""
