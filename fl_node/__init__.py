"""The federated protocol: task spec, canonical model bytes, the trainer seam, aggregation, rounds client, storage, nodes."""
