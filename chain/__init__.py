"""How Python talks to the chain: toolchain, compile, local node, keystores, the one transaction sender,
revert decoding, deployment files and paginated events. Nothing here runs at import time."""
