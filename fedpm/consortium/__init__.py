"""The consortium: who may act, as the ConsortiumRegistry records it.

Modules: `client` (the ConsortiumRegistry client: roles, typed views of organizations, proposals, machines and
devices, and the governance transactions), `bootstrap` (deploy and admit a planned consortium), `besu` (Besu's
local allowlists from the member table).
"""
