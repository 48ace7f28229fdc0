"""The gateway's Prometheus metrics, in a registry of its own per app."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

CONTENT_TYPE = CONTENT_TYPE_LATEST


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.websockets_open = Gauge(
            "parley_gateway_websockets_open", "WebSockets open now", registry=self.registry
        )
        self.websockets = Counter(
            "parley_gateway_websockets", "WebSockets accepted", registry=self.registry
        )
        self.refused = Counter(
            "parley_gateway_upgrades_refused", "WebSocket upgrades refused, by cause",
            ["cause"], registry=self.registry,
        )
        self.connections_refused = Counter(
            "parley_gateway_connections_refused",
            "Web connections refused or cut, by cause (address, full, header_timeout)",
            ["cause"], registry=self.registry,
        )
        self.frames_to_server = Counter(
            "parley_gateway_frames_to_server", "Frames relayed from browsers to the server",
            registry=self.registry,
        )
        self.frames_to_browser = Counter(
            "parley_gateway_frames_to_browser", "Frames relayed from the server to browsers",
            registry=self.registry,
        )
        self.upstream_failures = Counter(
            "parley_gateway_upstream_failures",
            "Chat server connections that failed (connect) or broke (lost)",
            ["kind"], registry=self.registry,
        )
        self.closed_by_gateway = Counter(
            "parley_gateway_websockets_closed", "WebSockets the gateway closed, by close code",
            ["code"], registry=self.registry,
        )

    def render(self) -> bytes:
        """The metrics in Prometheus text format."""
        return generate_latest(self.registry)
