"""Prometheus alert rules for the failure modes a Flow is known to have.

One rule group, ``flowserve``, shipped by the Kubernetes export as a ``PrometheusRule``
(kube-prometheus-stack's operator loads it) and by ``flowserve export prometheus-rules`` as a
plain rules file (``rule_files:`` in prometheus.yml, e.g. next to the compose export). Each
alert is a `signal` (a PromQL value per executor, or per process) compared with a threshold;
the tests run every signal against a real Prometheus and every alert through
``promtool test rules``. Series are grouped by ``namespace``, ``job`` and ``executor``, so two
Flows scraped by one Prometheus alert apart. Pure data: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ALERTS", "GROUP", "Alert", "prometheus_rule", "rule_groups"]

GROUP = "flowserve"
BY = "namespace, job, executor"
"""What an executor's alert is about: one executor of one Flow."""


@dataclass(frozen=True)
class Alert:
    """An alert rule: fires when `signal` `condition` (e.g. ``> 5``) holds for `for_`."""

    name: str
    signal: str
    condition: str
    for_: str
    severity: str
    summary: str
    description: str

    @property
    def expr(self) -> str:
        return f"{self.signal} {self.condition}"

    def rule(self) -> dict[str, Any]:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": {"severity": self.severity},
            "annotations": {"summary": self.summary, "description": self.description},
        }


def _ratio(part: str, whole: str) -> str:
    return f"sum by ({BY}) ({part}) / sum by ({BY}) ({whole})"


ALERTS: tuple[Alert, ...] = (
    Alert(
        name="FlowserveExecutorQueueWaitHigh",
        signal=("histogram_quantile(0.95, sum by (namespace, job, executor, le) "
                "(rate(flowserve_executor_queue_wait_seconds_bucket[1m])))"),
        condition="> 5", for_="2m", severity="warning",
        summary="Requests wait long in the gateway's queue for {{ $labels.executor }}",
        description=("p95 queue wait at executor {{ $labels.executor }} is "
                     "{{ $value | humanizeDuration }} (over 5 s): it gets more requests than "
                     "its replicas serve. Add replicas, or limit the clients filling it "
                     "(see flowserve_executor_queued_requests)."),
    ),
    Alert(
        name="FlowserveClientHoldsQueue",
        signal=("flowserve_executor_queued_requests{client!=\"other\"} "
                "/ on (namespace, job, instance, executor) group_left "
                "sum by (namespace, job, instance, executor) "
                "(flowserve_executor_queued_requests)"),
        condition=("> 0.8 and on (namespace, job, instance, executor) "
                   "sum by (namespace, job, instance, executor) "
                   "(flowserve_executor_queued_requests) >= 10"),
        for_="2m", severity="info",
        summary="One client holds most of {{ $labels.executor }}'s queue",
        description=("Client {{ $labels.client }} has {{ $value | humanizePercentage }} of "
                     "the requests queued at executor {{ $labels.executor }}. The fair queue "
                     "keeps others served; limit it with max_queue_per_client or the "
                     "client's prefetch."),
    ),
    Alert(
        name="FlowserveReplicasEjected",
        signal=f'sum by ({BY}) (flowserve_executor_replicas{{state="ejected"}})',
        condition="> 0", for_="1m", severity="warning",
        summary="Replicas of {{ $labels.executor }} are ejected",
        description=("{{ $value }} replica(s) of executor {{ $labels.executor }} failed "
                     "health checks or calls and are out of the gateway's rotation."),
    ),
    Alert(
        name="FlowserveProcessRestarting",
        signal=("changes(process_start_time_seconds[15m]) "
                "* on (namespace, job, instance) group_left (component) "
                "flowserve_build_info"),
        condition="> 2", for_="0m", severity="warning",
        summary="A flowserve {{ $labels.component }} keeps restarting",
        description=("{{ $labels.instance }} restarted {{ $value }} times in 15 minutes "
                     "(crash loop, OOM kill, failing readiness)."),
    ),
    Alert(
        name="FlowserveExecutorErrors",
        signal=("1 - " + _ratio('rate(flowserve_executor_requests_total{outcome="success"}[5m])',
                                "rate(flowserve_executor_requests_total[5m])")),
        condition="> 0.05", for_="5m", severity="warning",
        summary="Calls to {{ $labels.executor }} fail",
        description=("{{ $value | humanizePercentage }} of the gateway's calls to executor "
                     "{{ $labels.executor }} did not succeed (handler errors, unavailable "
                     "replicas, deadlines): see flowserve_executor_requests_total by outcome."),
    ),
    Alert(
        name="FlowserveGatewayShedding",
        signal=_ratio("rate(flowserve_executor_rejected_total[5m])",
                      "rate(flowserve_executor_admitted_total[5m]) "
                      "+ rate(flowserve_executor_rejected_total[5m])"),
        condition="> 0.01", for_="5m", severity="warning",
        summary="The gateway sheds load at {{ $labels.executor }}",
        description=("The gateway refuses {{ $value | humanizePercentage }} of the requests "
                     "for executor {{ $labels.executor }} (queue full or deadline unmeetable); "
                     "clients see RESOURCE_EXHAUSTED / 429."),
    ),
)


def rule_groups() -> dict[str, Any]:
    """The rules file's content (``groups:``), also a PrometheusRule's ``spec``."""
    return {"groups": [{"name": GROUP, "rules": [alert.rule() for alert in ALERTS]}]}


def prometheus_rule(*, name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    """The rules as a PrometheusRule (monitoring.coreos.com/v1) for the Prometheus operator."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": rule_groups(),
    }
