"""The one exception root of fedpm.

Every error fedpm raises on purpose derives from `FedpmError`: a one-line message that says what went
wrong and, in `hint`, what to do about it. The CLI prints `error: <message> (<hint>)` and exits non-zero
without a traceback; anything else escaping is a bug and keeps its traceback. Each wing defines its own
subclasses (`chain.errors`, `fl_node.errors`, the feature packages); only what every layer needs lives here.
"""

from __future__ import annotations


class FedpmError(Exception):
    """Root of fedpm's deliberate errors. `hint` names the fix."""

    exit_code: int = 1  # what the CLI exits with
    message: str
    hint: str | None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(FedpmError):
    """A setting is missing or malformed."""
