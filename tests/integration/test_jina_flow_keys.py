"""Jina Flow keys in a real Flow: `cors`, `uses_requests`, per-executor `timeout_ready`,
dict-form `uses`, and `Flow.index()` / `.search()`."""

from __future__ import annotations

import httpx
import pytest
from procs import running

from flowserve import Document, DocumentArray, Flow

pytestmark = pytest.mark.integration


def test_jina_keys_in_a_running_flow():
    flow = Flow(protocol="http", cors=True).add(
        name="first",
        uses={"jtype": "toy_executors.AppendText", "with": {"suffix": "-s"}},
        uses_requests={"/index": "tag"},  # `tag` leaves /tag and /label for /index
        timeout_ready=90,
    )
    with running(flow):
        indexed = flow.index(DocumentArray([Document(id="a", text="x")]))
        searched = flow.search(DocumentArray([Document(id="b", text="y")]))
        url = flow.addresses.gateway_url("http")
        preflight = httpx.options(f"{url}/post", headers={
            "Origin": "http://ui.example", "Access-Control-Request-Method": "POST"})
    assert indexed[0].tags == {"first": "-s"} and indexed[0].text == "x"
    assert searched[0].text == "y-s"  # /search falls to the /default handler
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] in ("*", "http://ui.example")
