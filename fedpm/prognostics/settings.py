"""The prediction service's settings section, `serve` (FEDPM_SERVE_<FIELD>): what `fedpm serve` serves and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServeSettings:
    task: int = 0  # the federated task whose finalized versions are served
    host: str = "127.0.0.1"
    port: int = 8090
    fleet: Path | None = None  # JSON: machine -> class, extra classes (fedpm.prognostics.alerts); None: built-in classes only
    default_class: str = ""  # class of machines the fleet file does not list ("": none, they get no prediction)
    gateway_store: Path | None = None  # the gateway's SQLite store to read verified readings from; None: <home>/sensors/gateway.sqlite
    poll_interval_s: float = 1.0  # how often the service looks for a newly finalized round or a changed choice
