"""The ML tasks federated by fl_node, one package each: `rul` (C-MAPSS remaining useful life) and `bearing`
(bearing health-state classifier). Each implements `fl_node.trainer.Trainer`; `tasks.registry` maps a task spec's
kind to its trainer. Tasks import fl_node (down), never the reverse."""
