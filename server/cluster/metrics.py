"""What ``/metrics`` shows of one node of a cluster: its name, its bus, its sequencer, its ClusterStats.

``parley serve`` hands ``ClusterCollector`` to its gateway, which registers
it with its own Prometheus registry: the figures are read from the hub when
scraped, so nothing here runs between scrapes.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from .hub import ClusterHub

_BUS_COUNTERS = {
    "published": "Bus messages sent to Redis",
    "dropped": "Bus messages dropped: Redis unreachable or the queue full (PostgreSQL still has them)",
    "received": "Bus messages heard from other nodes",
    "reconnects": "Times the bus subscribed again after losing Redis",
    "malformed": "Bus messages that could not be read",
}
_SEQUENCER_COUNTERS = {
    "duplicates": "Chat messages heard again (bus and database both), dropped",
    "skipped": "Places in a conversation given up on: the database did not have them",
    "released": "Chat messages not held past a gap (fetched from the database instead)",
}
_CLUSTER_COUNTERS = {
    "nodes_reaped": "Dead nodes this node wrote off (their users left)",
    "gaps_fetched": "Gaps in a conversation fetched from PostgreSQL",
    "caught_up": "Chat messages delivered from PostgreSQL rather than the bus",
    "fenced": "Times this node found itself written off and joined again",
}


class ClusterCollector(Collector):
    """Prometheus figures of ``hub``, read at each scrape."""

    def __init__(self, hub: ClusterHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        info = InfoMetricFamily("parley_cluster_node", "This node's name in the cluster")
        info.add_metric([], {"node": hub.node})
        yield info
        connected = GaugeMetricFamily("parley_cluster_bus_connected", "1 while subscribed to Redis, else 0")
        connected.add_metric([], 1.0 if hub.bus.connected else 0.0)
        yield connected
        for name, text in _BUS_COUNTERS.items():
            yield CounterMetricFamily(f"parley_cluster_bus_{name}", text, value=getattr(hub.bus, name))
        gaps = GaugeMetricFamily("parley_cluster_sequencer_gaps", "Conversations waiting for a missing message now")
        gaps.add_metric([], hub.sequencer.gaps())
        yield gaps
        for name, text in _SEQUENCER_COUNTERS.items():
            yield CounterMetricFamily(f"parley_cluster_sequencer_{name}", text, value=getattr(hub.sequencer, name))
        for figure in fields(hub.stats):
            text = _CLUSTER_COUNTERS.get(figure.name, figure.name.replace("_", " "))
            yield CounterMetricFamily(f"parley_cluster_{figure.name}", text, value=getattr(hub.stats, figure.name))
