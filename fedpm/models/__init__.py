"""The model registry: every finalized round of a federated task is a model version, read from the chain.

`registry` (versions from the FederatedLearning client's views and events, fetched from the content store only when
their bytes hash to the finalized hash), `choice` (which version a factory serves: the newest, or one pinned for a
rollback; every choice logged locally).
"""
