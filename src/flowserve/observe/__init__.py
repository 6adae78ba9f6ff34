"""Observability: Prometheus metrics, OpenTelemetry tracing, a live dashboard and `flowserve top`.

Nothing here runs at import: every metric lives in a `CollectorRegistry` made by the process that
serves it (never prometheus-client's global registry), and OpenTelemetry is imported only when
tracing is switched on. See docs/observability.md.

- :mod:`.metrics`: the gateway's `Observer` and the executor's `HandlerObserver` as Prometheus
  metrics, and a collector reading the gateway's queues at scrape time.
- :mod:`.history`: per-second samples of the last minutes for the dashboard.
- :mod:`.tracing`: spans for requests, executor calls and handlers, W3C context over gRPC.
- :mod:`.dashboard`, :mod:`.server`: the monitoring HTTP app (``/metrics``, ``/dashboard``).
- :mod:`.top`: ``flowserve top``. :mod:`.grafana`: a Grafana dashboard for the K8s export.
"""
