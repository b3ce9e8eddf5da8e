"""Prometheus metrics at /metrics (the root, not /api/v1).

Request latency is recorded by every web process. Under gunicorn the processes
share it through prometheus_client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set by web/gunicorn_conf.py before any worker imports prometheus_client), so a
scrape answers the same totals whichever worker takes it; in-process (tests, a
plain `flask run`) the default registry is used. Jobs, the outbox, queue depths
and beat's heartbeat are read from the database, the broker and Redis at scrape
time by a collector, so they too are the same from every worker. A source that
does not answer leaves its families out and sets cbrtl_scrape_errors{source} to 1;
the scrape itself still succeeds.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from db.models.base import utcnow
from db.queue_depths import queue_depths
from db.services import operations
from web.blueprint import Blueprint
from web.runtime import Runtime, runtime

log = logging.getLogger(__name__)
blp = Blueprint("metrics", __name__, description="Prometheus metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_DURATION = Histogram(
    "cbrtl_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (the URL rule), method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def init_metrics(app: Flask) -> None:
    """Time every request; register early, so the other hooks' time is counted."""

    @app.before_request
    def _start() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("metrics_started")
        if started is not None:
            rule = request.url_rule
            REQUEST_DURATION.labels(
                route=rule.rule if rule is not None else UNMATCHED,
                # Label values are a closed set: a fuzzer's made-up method is "other".
                method=request.method if request.method in _METHODS else "other",
                status=str(response.status_code),
            ).observe(time.perf_counter() - started)
        return response


@blp.get("/metrics")
@blp.doc(
    summary="Prometheus metrics",
    responses={
        "200": {
            "description": "Metrics in Prometheus' text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(OperationsCollector(runtime()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _Forward(Collector):
    """Another registry's metrics (the in-process default one) inside a scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


class OperationsCollector(Collector):
    """Jobs, outbox, queues and beat, read when scraped. Each source is fenced off."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        errors = GaugeMetricFamily(
            "cbrtl_scrape_errors",
            "1 when a source could not be read during this scrape (its metrics are missing).",
            labels=["source"],
        )
        for source, read in (
            ("database", self._database),
            ("broker", self._broker),
            ("cache", self._cache),
        ):
            try:
                families = list(read())
            except Exception as error:  # a down source is a result here, not a failed scrape
                log.warning("metrics: %s could not be read: %s", source, error)
                errors.add_metric([source], 1)
                continue
            errors.add_metric([source], 0)
            yield from families
        yield errors

    def _database(self) -> Iterator[Metric]:
        now = utcnow()
        with self.rt.session_factory() as session:
            operations.bound_statement_time(session=session, seconds=2)
            counts = operations.counts_by_type_and_status(session=session)
            outbox = operations.outbox_state(session=session, now=now)
            durations = operations.job_durations(session=session, now=now)
            session.rollback()
        jobs = GaugeMetricFamily(
            "cbrtl_jobs", "Job rows by type and status.", labels=["type", "status"]
        )
        for (type_, status), n in sorted(counts.items()):
            jobs.add_metric([type_, status], n)
        yield jobs
        yield GaugeMetricFamily(
            "cbrtl_jobs_dead",
            "Jobs that used up their attempts and wait for an operator.",
            value=sum(n for (_, status), n in counts.items() if status == "dead"),
        )
        duration = HistogramMetricFamily(
            "cbrtl_job_duration_seconds",
            "finished_at - started_at of the jobs that finished in the last 24 h.",
            labels=["type", "status"],
        )
        for histogram in durations:
            duration.add_metric(
                [histogram.type, histogram.status],
                buckets=[(_bound(b), n) for b, n in histogram.buckets],
                sum_value=histogram.sum_s,
            )
        yield duration
        yield GaugeMetricFamily(
            "cbrtl_outbox_lag_seconds",
            "How long the oldest due, unpublished job has waited (0 when none).",
            value=outbox.lag_s,
        )
        yield GaugeMetricFamily(
            "cbrtl_outbox_unpublished",
            "Queued jobs not yet handed to the broker.",
            value=outbox.unpublished,
        )

    def _broker(self) -> Iterator[Metric]:
        depths = GaugeMetricFamily(
            "cbrtl_queue_depth", "Messages ready in each broker queue.", labels=["queue"]
        )
        for name, n in queue_depths(self.rt.publisher).items():
            depths.add_metric([name], n)
        yield depths

    def _cache(self) -> Iterator[Metric]:
        beat = operations.beat_state(cache=self.rt.cache, now=utcnow())
        if beat.age_s is not None:
            yield GaugeMetricFamily(
                "cbrtl_beat_last_tick_seconds",
                "Seconds since beat's scheduler last ticked (its heartbeat in Redis).",
                value=beat.age_s,
            )


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(float(value))
