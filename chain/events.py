"""Event queries paginated over block ranges, so a long history never hits a node's log-range limit."""

from __future__ import annotations

from typing import Any, Iterator

from web3.contract.contract import ContractEvent


def iter_events(event: type[ContractEvent] | ContractEvent, *, from_block: int = 0, to_block: int | str = "latest", argument_filters: dict[str, Any] | None = None, chunk: int = 2000) -> Iterator[Any]:
    """Yield decoded logs of `event` in chain order, querying at most `chunk` blocks per request."""
    w3 = event.w3
    last = w3.eth.block_number if to_block == "latest" else int(to_block)
    start = from_block
    while start <= last:
        end = min(start + chunk - 1, last)
        yield from event.get_logs(from_block=start, to_block=end, argument_filters=argument_filters)
        start = end + 1


def events(event: Any, **kwargs: Any) -> list[Any]:
    return list(iter_events(event, **kwargs))
