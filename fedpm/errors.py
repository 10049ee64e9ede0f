"""The one exception root of fedpm.

Every error fedpm raises on purpose derives from `FedpmError`: a one-line message that says what went
wrong and, in `hint`, what to do about it. The CLI prints `error: <message> (<hint>)` and exits non-zero
without a traceback; anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class FedpmError(Exception):
    """Root of fedpm's deliberate errors. `hint` names the fix."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(FedpmError):
    """A setting is missing or malformed."""


class KeystoreError(FedpmError):
    """A keystore is missing, unreadable or locked with another password."""


class ChainUnreachable(FedpmError):
    """No JSON-RPC node answers at the configured URL."""

    def __init__(self, url: str, *, hint: str | None = None) -> None:
        super().__init__(f"no JSON-RPC node answers at {url}", hint=hint or "start one with `fedpm chain up` or set FEDPM_CHAIN_RPC_URL")
        self.url = url


class DeploymentError(FedpmError):
    """The deployment file is missing, for another chain, or points at no code."""


class TransactionFailed(FedpmError):
    """A transaction could not be sent or mined (not a contract revert)."""


class StorageError(FedpmError):
    """Content storage failed: object missing, hash mismatch, backend unreachable."""


class ObjectNotFound(StorageError):
    def __init__(self, cid: str) -> None:
        super().__init__(f"object {cid} is not in the content store", hint="check that the node that pinned it is reachable")
        self.cid = cid


class IntegrityError(FedpmError):
    """Data does not match the hash that was committed for it."""
