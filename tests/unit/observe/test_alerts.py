"""The shipped alert rules under ``promtool test rules``: each fires on series reproducing its
incident and stays silent on normal traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus import promtool

from flowserve.observe.alerts import ALERTS, rule_groups

GW = 'job="gw",instance="gw:9090",namespace="ns"'
EX = 'job="gw",instance="gw:9090",namespace="ns",executor="slow"'


def _le_buckets(name: str, per_minute: dict[str, str]) -> list[dict[str, str]]:
    """Histogram bucket series of `name` for executor slow: le -> values."""
    return [{"series": f'{name}_bucket{{{EX},le="{le}"}}', "values": v}
            for le, v in per_minute.items()]


# Per alert: (series of the incident, labels of the alert it raises, series of normal traffic)
CASES: dict[str, tuple[list[dict[str, str]], dict[str, str], list[dict[str, str]]]] = {
    "FlowserveExecutorQueueWaitHigh": (
        # 1 request/s, all waiting between 10 and 30 s
        _le_buckets("flowserve_executor_queue_wait_seconds",
                    {"1.0": "0x20", "10.0": "0x20", "30.0": "0+60x20", "+Inf": "0+60x20"}),
        {"executor": "slow", "job": "gw", "namespace": "ns"},
        _le_buckets("flowserve_executor_queue_wait_seconds",
                    {"1.0": "0+60x20", "10.0": "0+60x20", "30.0": "0+60x20",
                     "+Inf": "0+60x20"}),
    ),
    "FlowserveClientHoldsQueue": (
        [{"series": f'flowserve_executor_queued_requests{{{EX},client="flooder"}}',
          "values": "95x20"},
         {"series": f'flowserve_executor_queued_requests{{{EX},client="light"}}',
          "values": "1x20"}],
        {"executor": "slow", "job": "gw", "namespace": "ns", "instance": "gw:9090",
         "client": "flooder"},
        # one client alone, but a short queue: nothing to say
        [{"series": f'flowserve_executor_queued_requests{{{EX},client="flooder"}}',
          "values": "3x20"}],
    ),
    "FlowserveReplicasEjected": (
        [{"series": f'flowserve_executor_replicas{{{EX},state="ejected"}}', "values": "1x20"},
         {"series": f'flowserve_executor_replicas{{{EX},state="healthy"}}', "values": "1x20"}],
        {"executor": "slow", "job": "gw", "namespace": "ns"},
        [{"series": f'flowserve_executor_replicas{{{EX},state="ejected"}}', "values": "0x20"},
         {"series": f'flowserve_executor_replicas{{{EX},state="healthy"}}', "values": "2x20"}],
    ),
    "FlowserveProcessRestarting": (
        [{"series": f"process_start_time_seconds{{{GW}}}",
          "values": "100 100 200 200 300 300 400 400 500 500 500"},
         {"series": f'flowserve_build_info{{{GW},component="gateway",version="0",python="3"}}',
          "values": "1x20"}],
        {"job": "gw", "namespace": "ns", "instance": "gw:9090", "component": "gateway"},
        [{"series": f"process_start_time_seconds{{{GW}}}", "values": "100x20"},
         {"series": f'flowserve_build_info{{{GW},component="gateway",version="0",python="3"}}',
          "values": "1x20"}],
    ),
    "FlowserveExecutorErrors": (
        [{"series": f'flowserve_executor_requests_total{{{EX},replica="r",outcome="success"}}',
          "values": "0+50x20"},
         {"series": f'flowserve_executor_requests_total{{{EX},replica="r",'
                    f'outcome="executor_error"}}', "values": "0+10x20"}],
        {"executor": "slow", "job": "gw", "namespace": "ns"},
        [{"series": f'flowserve_executor_requests_total{{{EX},replica="r",outcome="success"}}',
          "values": "0+100x20"},
         {"series": f'flowserve_executor_requests_total{{{EX},replica="r",'
                    f'outcome="executor_error"}}', "values": "0+1x20"}],
    ),
    "FlowserveGatewayShedding": (
        [{"series": f"flowserve_executor_admitted_total{{{EX}}}", "values": "0+60x20"},
         {"series": f"flowserve_executor_rejected_total{{{EX}}}", "values": "0+30x20"}],
        {"executor": "slow", "job": "gw", "namespace": "ns"},
        [{"series": f"flowserve_executor_admitted_total{{{EX}}}", "values": "0+60x20"},
         {"series": f"flowserve_executor_rejected_total{{{EX}}}", "values": "0x20"}],
    ),
}
EVAL_TIME = "15m"


def _rules_file(tmp_path: Path, *, annotations: bool = True) -> Path:
    """The shipped rules; without their annotations when a test compares only labels
    (promtool compares both)."""
    groups = rule_groups()
    if not annotations:
        for rule in groups["groups"][0]["rules"]:
            del rule["annotations"]
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(groups), encoding="utf-8")
    return path


def _test(series: list[dict[str, str]], alert: str, labels: dict[str, str] | None,
          annotations: dict[str, str] | None = None) -> dict[str, Any]:
    severity = next(a.severity for a in ALERTS if a.name == alert)
    expected = [] if labels is None else [{"exp_labels": {**labels, "severity": severity},
                                           "exp_annotations": annotations or {}}]
    return {"interval": "1m", "input_series": series,
            "alert_rule_test": [{"eval_time": EVAL_TIME, "alertname": alert,
                                 "exp_alerts": expected}]}


def _promtool_test(rules: Path, tests: list[dict[str, Any]]) -> None:
    """Run `tests` on the `rules` file under promtool test rules; fail with its report."""
    path = rules.parent / "tests.yml"
    path.write_text(yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m",
                                    "tests": tests}), encoding="utf-8")
    done = promtool("test", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_shipped_alert_has_a_case():
    assert set(CASES) == {a.name for a in ALERTS}


def test_rules_file_passes_promtool_check(tmp_path):
    done = promtool("check", "rules", str(_rules_file(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("alert", sorted(CASES))
def test_alert_fires_on_its_incident_and_not_on_normal_traffic(tmp_path, alert):
    incident, labels, normal = CASES[alert]
    _promtool_test(_rules_file(tmp_path, annotations=False),
                   [_test(incident, alert, labels), _test(normal, alert, None)])


def test_queue_alert_names_the_executor_in_its_annotations(tmp_path):
    incident, labels, _ = CASES["FlowserveExecutorQueueWaitHigh"]
    annotations = {
        "summary": "Requests wait long in the gateway's queue for slow",
        "description": ("p95 queue wait at executor slow is 29s (over 5 s): it gets more "
                        "requests than its replicas serve. Add replicas, or limit the clients "
                        "filling it (see flowserve_executor_queued_requests)."),
    }
    _promtool_test(_rules_file(tmp_path),
                   [_test(incident, "FlowserveExecutorQueueWaitHigh", labels, annotations)])
