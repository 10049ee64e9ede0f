"""The Flower ClientApp: fedpm's own local update (`tasks.registry.trainer_for` over this node's C-MAPSS file, the
trainer seed rule `fl_node.trainer.fit_config`), so both frameworks train exactly the same way."""

from __future__ import annotations

from pathlib import Path

from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    from fl_node.trainer import fit_config
    from tasks.registry import load_spec_file, trainer_for
    from tasks.rul.trainer import CmapssEngines

    spec = load_spec_file(str(context.run_config["spec"]))
    seed = int(context.node_config["partition-id"])  # fedpm's trainer i runs with --seed i
    named = [(name, array.numpy()) for name, array in msg.content["arrays"].items()]  # fedpm's array names, in model order
    config = fit_config(seed, int(msg.content["config"]["server-round"]), int(context.run_config["epochs"]))
    result = trainer_for(spec, CmapssEngines.from_file(Path(str(context.node_config["data"])))).fit(named, config)
    metrics = MetricRecord({"num-examples": int(result.num_examples), "loss": float(result.metrics["loss"])})
    arrays = ArrayRecord({name: Array(a) for name, a in result.parameters})
    return Message(content=RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)
