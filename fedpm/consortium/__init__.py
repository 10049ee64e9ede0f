"""The consortium: who may act, as the ConsortiumRegistry records it.

Modules: `client` (the ConsortiumRegistry client: roles, typed views of organizations, proposals, machines and
device keys, and the governance, fleet and device-key transactions), `devices` (device-key views, history, table),
`attestation` (the manufacturer's signature over a device key and its machine), `bootstrap` (deploy and admit a
planned consortium), `demo` (device identity in the demo), `besu` (Besu's local allowlists from the member table).
"""
