"""The gateway's /docs page renders in headless Chromium with no network: Swagger UI's assets
come from the gateway itself, and a dead proxy stands in for the outside world."""

from __future__ import annotations

import pytest
from browser import browse, chromium
from procs import running
from toy_executors import NoOp

from flowserve import Flow

pytestmark = pytest.mark.integration


def test_docs_render_offline_with_the_post_schema(tmp_path):
    chromium()  # fail early, with the message, when it is missing
    with running(Flow(protocol="http").add(name="noop", uses=NoOp)) as flow:
        url = flow.addresses.gateway_url("http") + "/docs"
        # anything not on 127.0.0.1 goes to a proxy that is not there
        dom = browse(url, tmp_path, "--proxy-server=http://127.0.0.1:9", "--dump-dom")
    assert "Send documents through the Flow" in dom  # the /post operation, rendered
    assert "PostRequest" in dom and "PostResponse" in dom  # the schemas section
    assert "cdn" not in dom.lower()
