"""CLI habits of Jina users: --version, ping's millisecond timeouts, top on the wrong port."""

from __future__ import annotations

import argparse

import httpx
import pytest

from flowserve import __version__
from flowserve.cli.main import main
from flowserve.cli.ping import duration
from flowserve.cli.top import unreachable_message


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"flowserve {__version__}"


@pytest.mark.parametrize(("text", "seconds"), [
    ("3000", 3.0), ("250", 0.25), ("500ms", 0.5), ("3s", 3.0), ("1.5s", 1.5), ("1m", 60.0),
])
def test_ping_timeout_is_milliseconds_unless_a_unit_is_given(text, seconds):
    assert duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["0", "3h", "soon", "-1s", ""])
def test_ping_timeout_rejects_what_is_not_a_positive_duration(text):
    with pytest.raises(argparse.ArgumentTypeError):
        duration(text)


def test_top_on_a_gateway_port_points_to_the_monitoring_port():
    url = "http://127.0.0.1:8080/dashboard/api/snapshot"
    grpc_port = httpx.RemoteProtocolError("illegal request line")
    request = httpx.Request("GET", url)
    http_port = httpx.HTTPStatusError("404", request=request,
                                      response=httpx.Response(404, request=request))
    for exc in (grpc_port, http_port):
        message = unreachable_message("127.0.0.1:8080", url, exc)
        assert "monitoring port" in message and "port_monitoring" in message
    refused = unreachable_message("127.0.0.1:8080", url, httpx.ConnectError("refused"))
    assert refused.startswith(f"cannot read {url}")
