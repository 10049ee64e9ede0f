"""Besu's local permissioning from the member table: the allowlist file, and syncing a running node.

Rendering and diffing are pure functions over `OrgView` rows; only `sync_besu` talks to a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from chain.connect import rpc_call
from fedpm.consortium.client import OrgView


def render_besu_allowlist(members: Iterable[OrgView]) -> str:
    """Besu's `permissions_config.toml` for the member list (accounts and enodes of active orgs), sorted."""
    accounts = sorted({a.lower() for m in members if m.active for a in m.accounts})
    nodes = sorted({e for m in members if m.active for e in m.enodes})

    def toml_list(items: list[str]) -> str:
        return "[" + ",".join(f'"{i}"' for i in items) + "]"

    return f"accounts-allowlist={toml_list(accounts)}\nnodes-allowlist={toml_list(nodes)}\n"


@dataclass(frozen=True)
class AllowlistDiff:
    add_accounts: list[str]
    remove_accounts: list[str]
    add_nodes: list[str]
    remove_nodes: list[str]

    @property
    def empty(self) -> bool:
        return not (self.add_accounts or self.remove_accounts or self.add_nodes or self.remove_nodes)


def allowlist_diff(members: Iterable[OrgView], current_accounts: Iterable[str], current_nodes: Iterable[str]) -> AllowlistDiff:
    members = list(members)
    want_a = {a.lower() for m in members if m.active for a in m.accounts}
    want_n = {e for m in members if m.active for e in m.enodes}
    have_a = {a.lower() for a in current_accounts}
    have_n = set(current_nodes)
    return AllowlistDiff(sorted(want_a - have_a), sorted(have_a - want_a), sorted(want_n - have_n), sorted(have_n - want_n))


def sync_besu(url: str, members: Iterable[OrgView]) -> AllowlistDiff:
    """Apply the difference to a Besu node through its `perm_*` JSON-RPC methods (PERM API enabled)."""
    diff = allowlist_diff(members, rpc_call(url, "perm_getAccountsAllowlist", []), rpc_call(url, "perm_getNodesAllowlist", []))
    calls = [("perm_addAccountsToAllowlist", diff.add_accounts), ("perm_removeAccountsFromAllowlist", diff.remove_accounts),
             ("perm_addNodesToAllowlist", diff.add_nodes), ("perm_removeNodesFromAllowlist", diff.remove_nodes)]
    for method, items in calls:
        if items:
            rpc_call(url, method, [items])
    return diff
