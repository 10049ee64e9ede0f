"""The chain wing's errors (all under `ground.errors.FedpmError`). Errors of one module sit beside it:
`chain.compile.CompileError`, `chain.reverts.ContractRevert`."""

from __future__ import annotations

from ground.errors import FedpmError


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
