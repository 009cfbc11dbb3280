from __future__ import annotations


class CliError(Exception):
    """A user's mistake at the command line: one message, an exit code, no traceback."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
