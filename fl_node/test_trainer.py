import weakref

import numpy as np

from fl_node import aggregate as agg
from fl_node.modelfile import encode_weights
from fl_node.trainer import FitResult, local_seed, memory_round


class _Shift:
    """A trainer whose update is the base plus its seed, with `n` samples; counts how many of its updates are alive."""

    alive = [0, 0]  # now, most

    def __init__(self, n: int) -> None:
        self.n = n

    def fit(self, parameters, config):
        out = [(name, a + np.float32(config.seed % 97)) for name, a in parameters]
        _Shift.alive[0] += 1
        _Shift.alive[1] = max(_Shift.alive)
        weakref.finalize(out[0][1], lambda: _Shift.alive.__setitem__(0, _Shift.alive[0] - 1))
        return FitResult(out, self.n, {"loss": 0.0})


def test_memory_round_streams_its_local_updates_into_fedavg_and_lists_them_for_robust_rules():
    # Prepare
    base = [("00.w", np.arange(6, dtype=np.float32).reshape(3, 2))]
    trainers, seeds = [_Shift(n) for n in (3, 5, 7, 11)], [0, 1, 2, 3]
    expected = [(([(n, a + np.float32(local_seed(s, 2) % 97)) for n, a in base]), t.n) for t, s in zip(trainers, seeds)]
    # Execute
    _Shift.alive[:] = [0, 0]
    streamed = memory_round(trainers, seeds, base, 2, 1)
    most_streamed, _Shift.alive[:] = _Shift.alive[1], [0, 0]
    robust = memory_round(trainers, seeds, base, 2, 1, agg.median)
    # Assert
    assert most_streamed == 1 and _Shift.alive[1] == 4
    assert encode_weights(streamed) == encode_weights(agg.fedavg(expected))
    assert encode_weights(robust) == encode_weights(agg.median(expected))
