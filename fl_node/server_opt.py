"""Server-side optimizers over the round's aggregate (Reddi et al. 2021, "Adaptive Federated Optimization"): pure,
float64, a fixed order, so every aggregator computes the same bytes.

The aggregation rule (`fl_node.aggregate`, e.g. fedavg) gives the round's average `avg_t` of the trainers' models;
the pseudo-gradient is `delta_t = base_t - avg_t` (base_t = the round's starting global model), and the optimizer
moves the global model along it. Plain FedAvg is `base_t - delta_t = avg_t`.

Where the optimizer's state lives: nowhere but on chain. Every aggregator must derive it from what the chain shows
(the finalized global model of every round, pinned by hash; the included updates of every round), never from its own
memory, which a restarted or newly joined aggregator would not have:
- FedAvgM (server momentum, Hsu et al. 2019): `v_t = momentum * v_{t-1} + delta_t`, `x_t = base_t - lr * v_t`. With a
  constant server lr the step taken is the momentum: `v_{t-1} = (base_{t-1} - base_t) / lr`, so the state is the
  difference of the two latest global models (`previous` = the base of the previous finalized round; None in round 1,
  which starts from zero momentum). A round that finalized nothing leaves base unchanged: momentum restarts at zero.
- FedAdam: the moments m and v are not recoverable from the models alone, so `fedadam` replays them over every
  finalized round's (base_r, avg_r); avg_r is the aggregation rule over round r's included updates, all of which the
  chain pins (hashes, CIDs, the included list of the winning vote).
The spec declares the optimizer: `aggregation.server = {"optimizer": "fedavgm", "lr": 1.0, "momentum": 0.9}`
(`fl_node.spec.AggregationSpec.server`, checked by `config_problem` when the spec loads).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from fl_node.aggregate import AggregationError
from fl_node.modelfile import Named

OPTIMIZERS = ("fedavg", "fedavgm", "fedadam")
PARAMS = {"fedavg": (), "fedavgm": ("lr", "momentum"), "fedadam": ("lr", "beta1", "beta2", "tau")}


def _check(a: Named, b: Named) -> None:
    if [(n, np.shape(x)) for n, x in a] != [(n, np.shape(x)) for n, x in b]:
        raise AggregationError("server optimizer: models disagree on names or shapes")


def fedavgm(base: Named, averaged: Named, previous: Named | None = None, lr: float = 1.0, momentum: float = 0.9) -> Named:
    """One FedAvgM step from `base` given the round's average; `previous` is the global model one finalized round
    earlier (the momentum is `(previous - base) / lr`)."""
    if lr <= 0 or not 0 <= momentum < 1:
        raise AggregationError("fedavgm needs lr > 0 and 0 <= momentum < 1")
    _check(base, averaged)
    if previous is not None:
        _check(base, previous)
    out: Named = []
    for i, (name, b) in enumerate(base):
        b64 = np.asarray(b, np.float64)
        delta = b64 - np.asarray(averaged[i][1], np.float64)
        v_prev = (np.asarray(previous[i][1], np.float64) - b64) / lr if previous is not None else 0.0
        v = momentum * v_prev + delta
        out.append((name, (b64 - lr * v).astype(np.asarray(b).dtype)))
    return out


def fedadam(rounds: Sequence[tuple[Named, Named]], lr: float = 0.01, beta1: float = 0.9, beta2: float = 0.99, tau: float = 1e-3) -> Named:
    """The global model after the last of `rounds` = [(base_r, avg_r)] in round order: FedAdam's moments replayed
    from round 1 (m, v start at zero; no bias correction, as in Reddi et al.)."""
    if not rounds:
        raise AggregationError("fedadam needs at least one round")
    if lr <= 0 or tau <= 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise AggregationError("fedadam needs lr > 0, tau > 0, betas in [0, 1)")
    base0 = rounds[0][0]
    m = [np.zeros(np.shape(a), np.float64) for _, a in base0]
    v = [np.zeros(np.shape(a), np.float64) for _, a in base0]
    for base, averaged in rounds:
        _check(base0, base)
        _check(base0, averaged)
        for i in range(len(base0)):
            delta = np.asarray(base[i][1], np.float64) - np.asarray(averaged[i][1], np.float64)
            m[i] = beta1 * m[i] + (1 - beta1) * delta
            v[i] = beta2 * v[i] + (1 - beta2) * delta * delta
    last = rounds[-1][0]
    return [(name, (np.asarray(b, np.float64) - lr * m[i] / (np.sqrt(v[i]) + tau)).astype(np.asarray(b).dtype)) for i, (name, b) in enumerate(last)]


def config_problem(server: Mapping[str, Any] | None) -> str | None:
    """What is wrong with a spec's `aggregation.server` section (None: nothing): an unknown optimizer, an unknown
    parameter, a parameter that is not a number or out of its bounds. Pure."""
    if server is None:
        return None
    name = server.get("optimizer", "fedavg")
    if name not in OPTIMIZERS:
        return f"unknown server optimizer {name!r}; known: {', '.join(OPTIMIZERS)}"
    params = {k: v for k, v in server.items() if k != "optimizer"}
    if unknown := sorted(set(params) - set(PARAMS[name])):
        return f"server optimizer {name} has no parameter {unknown[0]!r} (parameters: {', '.join(PARAMS[name]) or 'none'})"
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in params.values()):
        return f"server optimizer {name}: parameters must be numbers"
    try:
        if name == "fedavgm":
            fedavgm([], [], None, **params)
        elif name == "fedadam":
            fedadam([([], [])], **params)
    except AggregationError as exc:
        return str(exc)
    return None


def server_config(server: Mapping[str, Any] | None) -> dict[str, Any]:
    """A spec's `aggregation.server` section as {"optimizer": name, **params} (absent: plain FedAvg, i.e. the
    aggregate is the new global model)."""
    if (why := config_problem(server)) is not None:
        raise AggregationError(why)
    cfg = dict(server or {})
    return {"optimizer": cfg.pop("optimizer", "fedavg"), **cfg}


def server_step(server: Mapping[str, Any] | None, history: Sequence[tuple[Named, Named]]) -> Named:
    """The round's new global model from the history of finalized rounds [(base_r, avg_r)], the current round last,
    under the spec's `aggregation.server` section: what every aggregator computes after the aggregation rule. Reads
    only chain-derivable inputs."""
    cfg = server_config(server)
    name = cfg.pop("optimizer")
    base, averaged = history[-1]
    if name == "fedavg":
        return averaged
    if name == "fedavgm":
        return fedavgm(base, averaged, history[-2][0] if len(history) > 1 else None, **cfg)
    return fedadam(history, **cfg)
