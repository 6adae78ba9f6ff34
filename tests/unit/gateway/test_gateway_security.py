"""The gateway's security settings (docs/security.md): Flow keys, flags, and their checks."""

from __future__ import annotations

import pytest

from flowserve.cli.main import _parser
from flowserve.config.graph import build_graph
from flowserve.config.spec import flow_from_dict
from flowserve.errors import ConfigError
from flowserve.gateway.config import GatewayConfig
from flowserve.gateway.security import SecurityConfig
from flowserve.gateway.tls import TlsFiles


def _config(with_: dict) -> GatewayConfig:
    spec = flow_from_dict({"with": with_, "executors": [{"name": "a"}]})
    return GatewayConfig.from_flow(spec, build_graph(spec), {"a": ["127.0.0.1:1"]})


def test_tls_files_travel_from_the_flow_to_the_gateway_flags():
    config = _config({"ssl_certfile": "/certs/tls.crt", "ssl_keyfile": "/certs/tls.key"})
    args = _parser().parse_args(["gateway", *config.to_argv()])
    assert SecurityConfig.from_args(args) == config.security
    assert config.security.ssl_certfile == "/certs/tls.crt"
    assert "--ssl-certfile" not in _config({}).to_argv()


def test_certificate_and_key_go_together():
    with pytest.raises(ConfigError, match="ssl_certfile and ssl_keyfile go together"):
        flow_from_dict({"with": {"ssl_certfile": "a.pem"}})


def test_unreadable_or_non_pem_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"ssl_certfile '.*missing.pem': cannot read it"):
        TlsFiles(str(tmp_path / "missing.pem"), str(tmp_path / "k.pem"))
    (tmp_path / "c.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match="not a PEM file"):
        TlsFiles(str(tmp_path / "c.pem"), str(tmp_path / "k.pem"))


def test_leak_and_bypass_settings_travel_to_the_flags_and_exports_hide_stacks():
    config = _config({"error_detail": "message", "allow_target_executor": False,
                      "monitoring": True, "monitoring_host": "0.0.0.0"})
    argv = config.to_argv()
    args = _parser().parse_args(["gateway", *argv])
    assert SecurityConfig.from_args(args) == config.security
    assert (config.security.error_detail, config.security.allow_target_executor) == (
        "message", False)
    assert args.monitoring_host == "0.0.0.0"
    assert _parser().parse_args(["gateway"]).monitoring_host == "127.0.0.1"  # default
    from flowserve.export._commands import gateway_args

    spec = flow_from_dict({"executors": [{"name": "a"}]})
    exported = _parser().parse_args(gateway_args(spec, {"a": ["a:8080"]}))
    assert exported.error_detail == "message"  # the exports default to no stacks
    spec = flow_from_dict({"with": {"error_detail": "stack"}, "executors": [{"name": "a"}]})
    assert _parser().parse_args(gateway_args(spec, {"a": ["a:8080"]})).error_detail == "stack"


def test_executor_tls_files_go_together_and_reach_the_gateway():
    with pytest.raises(ConfigError, match="give all three or none"):
        flow_from_dict({"with": {"executor_ssl_certfile": "e.pem"}})
    config = _config({"executor_ssl_certfile": "e.pem", "executor_ssl_keyfile": "e.key",
                      "executor_ssl_cafile": "ca.pem"})
    args = _parser().parse_args(["gateway", *config.to_argv()])
    assert args.executor_ssl_cafile == "ca.pem"
    executor = _parser().parse_args(["executor", "--ssl-certfile", "e.pem",
                                     "--ssl-keyfile", "e.key"])
    assert (executor.ssl_certfile, executor.ssl_keyfile) == ("e.pem", "e.key")
