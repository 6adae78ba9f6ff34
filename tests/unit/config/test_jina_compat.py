"""Jina 3 Flow keys: cors, per-executor timeout_ready, uses_requests, dict-form uses, and the
harmless Jina keys that warn instead of failing."""

from __future__ import annotations

import json

import pytest

from flowserve.config.jina_compat import JinaKeyWarning
from flowserve.config.spec import flow_from_dict, load_flow
from flowserve.errors import ConfigError
from flowserve.export._commands import executor_args
from flowserve.export.images import ExecutorImage


def test_cors_timeout_ready_and_uses_requests_are_flow_keys():
    spec = flow_from_dict({"with": {"cors": True, "protocol": "http"}, "executors": [
        {"name": "a", "timeout_ready": 120, "uses_requests": {"/go": "run"}}]})
    assert spec.with_.cors is True
    assert spec.executors[0].timeout_ready == 120.0
    assert spec.executors[0].uses_requests == {"/go": "run"}


def test_websocket_is_a_gateway_protocol():
    spec = flow_from_dict({"with": {"protocol": ["grpc", "WebSocket"], "port": [1, 2]}})
    assert spec.with_.protocol == ["grpc", "websocket"]


def test_dict_form_uses_spreads_into_the_uses_keys_and_the_entry_wins():
    spec = flow_from_dict({"executors": [{
        "name": "enc",
        "uses": {"jtype": "pkg.Encoder", "with": {"dim": 8, "device": "cpu"},
                 "metas": {"m": 1}, "requests": {"/x": "encode"}, "py_modules": "enc.py"},
        "uses_with": {"device": "cuda"},
        "py_modules": ["helpers.py"],
    }]})
    ex = spec.executors[0]
    assert ex.uses == "pkg.Encoder"
    assert ex.uses_with == {"dim": 8, "device": "cuda"}
    assert ex.uses_metas == {"m": 1} and ex.uses_requests == {"/x": "encode"}
    assert ex.py_modules == ["enc.py", "helpers.py"]


def test_dict_form_uses_with_an_unknown_key_names_it():
    with pytest.raises(ConfigError, match=r"executors\[0\] \(e\).*unknown key 'jtyp'"):
        flow_from_dict({"executors": [{"name": "e", "uses": {"jtyp": "X"}}]})


def test_harmless_jina_keys_warn_and_are_dropped(tmp_path):
    path = tmp_path / "flow.yml"
    path.write_text("jtype: Flow\nwith:\n  quiet: true\nexecutors:\n"
                    "  - name: e\n    install_requirements: true\n")
    with pytest.warns(JinaKeyWarning) as caught:
        spec = load_flow(path)
    messages = [str(w.message) for w in caught]
    assert any("'quiet'" in m and m.startswith("with:") for m in messages)
    assert any("executor 'e'" in m and "'install_requirements'" in m for m in messages)
    assert spec.executors[0].name == "e"


def test_other_unknown_keys_are_still_errors():
    with pytest.raises(ConfigError, match="unknown key 'instal_requirements'"):
        flow_from_dict({"executors": [{"name": "e", "instal_requirements": True}]})


def test_uses_requests_reaches_the_executor_command_line():
    spec = flow_from_dict({"executors": [{"name": "e", "uses_requests": {"/go": "run"}}]})
    args = executor_args(spec.executors[0], ExecutorImage(image="img", uses="x:Y"), port=1,
                         grace=1.0)
    assert json.loads(args[args.index("--uses-requests") + 1]) == {"/go": "run"}
