"""A consortium network on real engines: `fedpm network init` (keys, QBFT genesis, allowlists, swarm key, member
keystores, the compose .env) and the validator set mirrored from governance (`fedpm network validators`)."""
