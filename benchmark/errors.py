"""User-facing errors: the CLI turns them into one message and an exit code."""


class UserError(Exception):
    """A mistake in what the user asked for (bad name, flag, path or data).

    The CLI prints the message alone, without a traceback, and exits with
    ``exit_code`` (2, like argparse, unless the error says otherwise).
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class DataError(UserError):
    """A data set is missing, corrupt, or cannot be fetched."""


class MetaLossError(RuntimeError):
    """A meta-learning loss became NaN or infinite; the run must stop."""
