"""Faults #2: a handler that never returns fails its request after `timeout_handler` and its
replica restarts; a Flow with a wedged handler stops within grace; nothing survives a killed
`flowserve flow`."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest
from procs import Proc, pid_alive, running, wait_until

from flowserve import Client, Document, Flow
from flowserve.errors import HandlerTimeoutError

pytestmark = pytest.mark.integration


def _executor_pid(flow: Flow) -> int | None:
    return next(c.pid for c in flow._runtime.children if c.role == "executor")


def _answers(client: Client) -> bool:
    try:
        return len(client.post("/", Document(text="y"), timeout=10)) == 1
    except Exception:  # noqa: BLE001 - still restarting
        return False


@pytest.mark.parametrize("endpoint", ["/hang", "/block"])
def test_a_handler_that_never_returns_fails_its_request_and_the_replica_restarts(endpoint):
    """/hang: on the handler thread (the request gets HandlerTimeoutError); /block: an async
    handler blocking the event loop (the watchdog ends the process). Before: the replica
    stayed SERVING and wedged for good."""
    flow = Flow(grace=2).add(name="hangs", uses="fault_executors:Hangs", timeout_handler=2)
    with running(flow), Client(host=flow.addresses.gateway_url()) as client:
        first = _executor_pid(flow)
        errors: list[str] = []
        started = time.monotonic()
        if endpoint == "/hang":  # raised as a HandlerTimeoutError (an ExecutorError, a timeout)
            with pytest.raises(HandlerTimeoutError) as raised:
                client.post(endpoint, Document(text="x"), timeout=120)
            errors.append(str(raised.value))
            assert raised.value.executor == "hangs"
        else:
            client.post(endpoint, Document(text="x"), timeout=120,
                        on_error=lambda r: errors.append(r.header.status.description))
        assert len(errors) == 1
        assert time.monotonic() - started < 60
        if endpoint == "/hang":
            assert ("executor 'hangs' endpoint '/hang': the handler did not return within 2 s "
                    "(timeout_handler)") in errors[0]
        assert wait_until(lambda: _executor_pid(flow) != first, 60), "not restarted"
        assert wait_until(lambda: _answers(client), 120)


def test_killing_the_flow_cli_with_a_wedged_handler_leaves_no_executor(tmp_path):
    """Before: the wedged executor survived (its shutdown waited on the stuck thread)."""
    flow_yml = tmp_path / "flow.yml"
    flow_yml.write_text("jtype: Flow\nwith:\n  grace: 2\nexecutors:\n"
                        "  - name: hangs\n    uses: fault_executors:Hangs\n")
    proc = Proc("flow", "--uses", str(flow_yml))
    kids: list[int] = []
    try:
        assert wait_until(lambda: "grpc://" in proc.output or proc.p.poll() is not None,
                          120), proc.output
        url = proc.output.split("grpc://")[1].split()[0].strip("│ ")
        kids = proc.descendants()
        client = Client(host=f"grpc://{url}")
        _post_in_background(client, "/hang")
        assert wait_until(lambda: "handler hangs" in proc.output, 60), proc.output
        proc.p.send_signal(signal.SIGKILL)
        proc.p.wait(30)
        assert wait_until(lambda: not any(pid_alive(k) for k in kids), 60), \
            f"survivors: {[k for k in kids if pid_alive(k)]}"
    finally:
        proc.stop()
        for k in kids:
            if pid_alive(k):
                os.kill(k, signal.SIGKILL)


def test_stopping_a_flow_with_wedged_handlers_takes_grace_not_grace_plus_5_each():
    """Two replicas, each wedged in a handler; grace 2. Before: the gateway's grace, then
    grace + 5 s for each replica in turn (with the default grace: 31 s); now about 2 x grace."""
    flow = Flow(grace=2).add(name="hangs", uses="fault_executors:Hangs", replicas=2)
    with running(flow):
        client = Client(host=flow.addresses.gateway_url())
        _post_in_background(client, "/hang")
        _post_in_background(Client(host=flow.addresses.gateway_url()), "/hang")
        assert wait_until(lambda: _in_handlers(flow) == 2, 60)
        started = time.monotonic()
    assert time.monotonic() - started < 2 + (2 + 5) * 2 - 1, time.monotonic() - started


def _post_in_background(client: Client, endpoint: str) -> None:
    def post() -> None:
        with contextlib.suppress(Exception):  # the Flow stops under it: any outcome is fine
            client.post(endpoint, Document(text="x"), on_error=lambda r: None)

    threading.Thread(target=post, daemon=True).start()


def _in_handlers(flow: Flow) -> int:
    return sum("handler hangs" in "\n".join(c.last_lines) for c in flow._runtime.children
               if c.role == "executor")
