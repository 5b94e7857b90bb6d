"""Prometheus metrics of the egress service: queue length per state (read from the database at
scrape time, so several workers agree), time to decision, upload sizes and verdicts."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from egress_review.models import ReleaseRequest
from egress_review.states import RequestState


class _QueueCollector:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self):
        gauge = GaugeMetricFamily(
            "sandkasse_egress_requests", "Release requests by state (queue = submitted + reviewed)", labels=["state"]
        )
        with self._sessions() as session:
            counts = dict(session.execute(select(ReleaseRequest.state, func.count()).group_by(ReleaseRequest.state)).all())
        for state in RequestState:
            gauge.add_metric([state.value], counts.get(state.value, 0))
        yield gauge
        queue = GaugeMetricFamily("sandkasse_egress_queue_length", "Requests waiting for checkers")
        queue.add_metric([], counts.get("submitted", 0) + counts.get("reviewed", 0))
        yield queue


class EgressMetrics:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_QueueCollector(sessions))  # pass read sessions: a scrape never blocks writers
        self.time_to_decision = Histogram(
            "sandkasse_egress_time_to_decision_seconds",
            "From submission to approve/return/reject",
            ["decision"],
            buckets=(60, 300, 900, 3600, 4 * 3600, 86400, 3 * 86400, 7 * 86400, float("inf")),
            registry=self.registry,
        )
        self.uploads = Counter(
            "sandkasse_egress_uploads", "Stored file versions by automatic verdict", ["verdict"], registry=self.registry
        )
        self.refused = Counter(
            "sandkasse_egress_refused_uploads", "Uploads refused at the gate", ["reason"], registry=self.registry
        )
        self.downloads = Counter("sandkasse_egress_downloads", "Released files downloaded", registry=self.registry)
