"""How a local Flow starts its processes: the start method is checked, and a template is
forked only when this process can fork safely (no sockets, no processes started here)."""

from __future__ import annotations

import threading

import pytest

from flowserve.config.spec import flow_from_dict
from flowserve.errors import ConfigError, FlowStartError
from flowserve.local.local_flow import LocalFlow
from flowserve.local.template import fork_safe

SPEC = flow_from_dict({"executors": [{"name": "noop", "uses": "toy_executors:NoOp"}]})


def test_an_unknown_start_method_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="'vfork': expected one of auto, fork, spawn"):
        LocalFlow(SPEC, start_method="vfork")


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not fork_safe()
        auto = LocalFlow(SPEC)
        auto._fork_template()  # auto: new interpreters instead
        assert auto.template is None
        with pytest.raises(FlowStartError, match="start method 'fork'.*use 'auto' or 'spawn'"):
            LocalFlow(SPEC, start_method="fork")._fork_template()
    finally:
        stop.set()
        thread.join()


def test_no_fork_from_another_thread():
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(fork_safe()))
    thread.start()
    thread.join()
    assert results == [False]


def test_spawn_never_forks():
    flow = LocalFlow(SPEC, start_method="spawn")
    flow._fork_template()
    assert flow.template is None
