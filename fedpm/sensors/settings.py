"""The sensors feature's settings section, `mqtt`: the broker the gateway subscribes to and simulators publish to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MqttSettings:
    host: str = "127.0.0.1"
    port: int = 1883
    topic_root: str = "fedpm"
