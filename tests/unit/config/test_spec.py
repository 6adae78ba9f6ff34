"""Flow YAML schema and loading: flowserve.config.spec."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowserve.config.spec import (
    ExecutorSpec,
    FlowSpec,
    GatewaySpec,
    flow_from_dict,
    load_flow,
    spec_to_dict,
)
from flowserve.errors import ConfigError
from flowserve.executor import Executor

DATA = Path(__file__).resolve().parents[2] / "data"


def write(tmp_path: Path, text: str, name: str = "flow.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_flow(path)
    return str(info.value)


# --- the demo Flow ---------------------------------------------------------------------------


def test_seed_flow_with_local_uses_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spec = load_flow(DATA / "flow.yml")
    assert spec.jtype == "Flow"
    assert [e.name for e in spec.executors] == ["slow_executor", "bulky_executor"]
    slow, bulky = spec.executors
    assert slow.uses == "linkerd_executors:HeavyExecutorLinkerdDemo"
    assert slow.uses_with == {"n_dim": -1, "sleep": 1}
    assert bulky.uses_with == {"n_dim": 512, "sleep": 0}
    assert slow.needs is None and slow.replicas == 1 and not slow.external
    assert spec.with_ == GatewaySpec()
    assert spec.with_.protocol == ["grpc"] and spec.with_.port is None
    assert spec.source == (DATA / "flow.yml").resolve()
    assert spec.base_dir == DATA.resolve()


def test_seed_prefetch_block(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        with:
          prefetch: 5
        executors:
          - name: slow_executor
    """)
    spec = load_flow(path)
    assert spec.with_.prefetch == 5
    assert spec.gateway is spec.with_
    assert spec.executors[0].uses is None


def test_relative_path_source_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "jtype: Flow\n")
    monkeypatch.chdir(tmp_path)
    spec = load_flow("flow.yml")
    assert spec.source == tmp_path.resolve() / "flow.yml"
    assert spec.base_dir == tmp_path.resolve()
    assert spec.executors == []


# --- with: -----------------------------------------------------------------------------------


def test_gateway_scalar_port_and_protocol_case_insensitive() -> None:
    gw = GatewaySpec.model_validate({"port": 8080, "protocol": "HTTP"})
    assert gw.port == [8080]
    assert gw.protocol == ["http"]


def test_gateway_protocol_and_port_lists(tmp_path: Path) -> None:
    spec = load_flow(DATA / "flow_py_modules.yml")
    assert spec.with_.protocol == ["grpc", "http"]
    assert spec.with_.port == [45678, 45679]
    assert spec.with_.prefetch == 5
    assert spec.version == "1"  # YAML number coerced


def test_gateway_defaults() -> None:
    gw = GatewaySpec()
    assert (gw.host, gw.prefetch, gw.name, gw.timeout_ready, gw.uses) == (
        "0.0.0.0", 1000, "gateway", 60.0, None)
    assert gw.env == {}
    assert flow_from_dict({"with": None}).with_ == gw


def test_gateway_port_count_mismatch_names_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        with:
          protocol: [grpc, http]
          port: 12345
    """)
    message = load_error(path)
    assert f"{path}:4: with.port:" in message
    assert "1 port(s) given for 2 protocol(s)" in message


@pytest.mark.parametrize(
    ("block", "key", "fragment"),
    [
        ("port: 70000", "with.port[0]", "less than or equal to 65535"),
        ("port: [0]", "with.port[0]", "greater than or equal to 1"),
        ("protocol: ftp", "with.protocol[0]", "'grpc', 'http' or 'websocket'"),
        ("prefetch: -1", "with.prefetch", "greater than or equal to 0"),
        ("port: [1234, 1234]\n  protocol: [grpc, http]", "with.port", "distinct"),
        ("protocol: []", "with.protocol", "at least one protocol"),
        ("env: {A: [1]}", "with.env.A", "valid string"),
    ],
)
def test_gateway_invalid_values(tmp_path: Path, block: str, key: str, fragment: str) -> None:
    path = tmp_path / "flow.yml"
    path.write_text(f"jtype: Flow\nwith:\n  {block}\n", encoding="utf-8")
    message = load_error(path)
    assert f"{path}:3: {key}:" in message
    assert fragment in message


# --- executors -------------------------------------------------------------------------------


def test_executor_field_coercions() -> None:
    spec = flow_from_dict({
        "executors": [
            {"name": "a", "py_modules": "mods.py", "needs": "gateway",
             "env": {"N": 1, "F": 1.5, "ON": True, "S": "x"}, "uses_with": None},
            {"name": "b-2", "needs": ["a", "gateway"], "replicas": 3, "workspace": "/tmp/ws"},
        ]
    })
    a, b = spec.executors
    assert a.py_modules == ["mods.py"]
    assert a.needs == ["gateway"]
    assert a.env == {"N": "1", "F": "1.5", "ON": "true", "S": "x"}
    assert a.uses_with == {}
    assert b.needs == ["a", "gateway"]
    assert b.replicas == 3 and b.workspace == "/tmp/ws"


def test_sync_handlers_option(tmp_path: Path) -> None:
    spec = flow_from_dict({"executors": [{"name": "a"}, {"name": "b", "sync_handlers": "thread"}]})
    assert [e.sync_handlers for e in spec.executors] == ["auto", "thread"]
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: first
            sync_handlers: loop
    """)
    message = load_error(path)
    assert f"{path}:4: executors[0].sync_handlers (first):" in message
    assert "'auto' or 'thread'" in message


def test_executor_uses_a_class_from_python() -> None:
    class Local(Executor):
        pass

    spec = flow_from_dict({"executors": [{"name": "a", "uses": Local}]})
    assert spec.executors[0].uses is Local


def test_external_executor_needs_host_and_port(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: first
          - name: remote
            external: true
            host: 10.0.0.1
    """)
    message = load_error(path)
    assert f"{path}:4: executors[1] (remote):" in message
    assert "executor 'remote' is external and needs port" in message
    ok = ExecutorSpec(name="remote", external=True, host="10.0.0.1", port=8080)
    assert ok.port == 8080


def test_unknown_key_names_file_line_path_and_executor() -> None:
    message = load_error(DATA / "flow_typo.yml")
    assert f"{DATA / 'flow_typo.yml'}:9: executors[1] (bulky_executor): unknown key 'uses_wth'" \
        in message
    assert "did you mean 'uses_with'?" in message


def test_all_problems_listed_in_one_error_sorted_by_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        with:
          prefetc: 5
        executors:
          - name: ok
            replicas: 0
          - name: "bad name"
          - uses: x:Y
          - name: ok
          - name: gateway
    """)
    message = load_error(path)
    lines = message.splitlines()
    assert lines[0] == f"invalid Flow config in {path} (6 problems):"
    assert lines[1:] == [
        f"  {path}:3: with: unknown key 'prefetc' (did you mean 'prefetch'?)",
        (f"  {path}:6: executors[0].replicas (ok): Input should be greater than or equal to 1 "
        "(got 0)"),
        (f"  {path}:7: executors[1].name (bad name): invalid executor name 'bad name': use letters,"
        " digits, '_' and '-', starting and ending with a letter or digit"),
        f"  {path}:8: executors[2]: missing required key 'name'",
        (f"  {path}:9: executors[3].name (ok): duplicate executor name 'ok' (already used by "
        "executors[0])"),
        (f"  {path}:10: executors[4].name (gateway): the name 'gateway' is reserved for the Flow's "
        "gateway"),
    ]


def test_duplicate_names_when_everything_else_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: a
          - name: b
          - name: a
    """)
    message = load_error(path)
    assert message == (f"invalid Flow config: {path}:5: executors[2].name (a): duplicate "
                       "executor name 'a' (already used by executors[0])")


@pytest.mark.parametrize("name", ["-a", "a-", "a b", "a.b", "ä", ""])
def test_invalid_executor_names(name: str) -> None:
    with pytest.raises(ConfigError, match=r"executors\[0\]\.name"):
        flow_from_dict({"executors": [{"name": name}]})


@pytest.mark.parametrize("name", ["a", "A1", "slow_executor", "x-y_z9", "0"])
def test_valid_executor_names(name: str) -> None:
    assert flow_from_dict({"executors": [{"name": name}]}).executors[0].name == name


def test_uses_of_wrong_type_has_one_clean_message(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: a
            uses: 5
    """)
    message = load_error(path)
    assert message == (f"invalid Flow config: {path}:4: executors[0].uses (a): uses must be a "
                       "string reference or a class, got int")


# --- file-level errors -----------------------------------------------------------------------


def test_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yml"
    assert load_error(missing) == f"{missing}: flow file not found"


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: a
            uses_with: {n_dim: 1
          - name: b
    """)
    message = load_error(path)
    assert message.startswith(f"{path}:5: invalid YAML:")


@pytest.mark.parametrize(("text", "got"), [("- a\n- b\n", "a list"), ("", "an empty file"),
                                           ("just text\n", "a str")])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert message.startswith(f"{path}:1: the top level must be a mapping")
    assert message.endswith(f"got {got}")


def test_jtype_must_be_flow(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: HeavyExecutor
        with:
          n_dim: 3
    """)
    message = load_error(path)
    assert f"{path}:1: jtype: jtype must be 'Flow', got 'HeavyExecutor'" in message
    assert f"{path}:3: with: unknown key 'n_dim'" in message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    path = write(tmp_path, """
        jtype: Flow
        executors:
          - name: a
            replicas: 2
            replicas: 3
    """)
    assert f"{path}:5: executors[0] (a): duplicate key 'replicas'" in load_error(path)


def test_source_cannot_be_set_from_a_file(tmp_path: Path) -> None:
    path = write(tmp_path, "jtype: Flow\nsource: /etc\n")
    assert f"{path}:2: source: unknown key 'source'" in load_error(path)


def test_dict_errors_without_source_have_no_file_prefix() -> None:
    with pytest.raises(ConfigError) as info:
        flow_from_dict({"executors": [{"name": "a", "uses_wth": {}}]})
    assert str(info.value) == ("invalid Flow config: executors[0] (a): unknown key 'uses_wth' "
                               "(did you mean 'uses_with'?)")


def test_dict_errors_with_source_name_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^invalid Flow config: .*my\.yml: executors\[0\]"):
        flow_from_dict({"executors": [{"name": "a", "replicas": "many"}]},
                       source=tmp_path / "my.yml")


def test_not_a_mapping() -> None:
    with pytest.raises(ConfigError, match="must be a mapping"):
        flow_from_dict(["executors"])  # type: ignore[arg-type]


# --- serialization ---------------------------------------------------------------------------


def test_spec_to_dict_round_trips() -> None:
    spec = load_flow(DATA / "flow_py_modules.yml")
    data = spec_to_dict(spec)
    assert "source" not in data
    assert data["with"]["port"] == [45678, 45679]
    assert data["executors"][0]["py_modules"] == ["linkerd_executors.py"]
    again = flow_from_dict(data, source=spec.source)
    assert again == spec
    assert flow_from_dict(spec_to_dict(again)) == spec.model_copy(update={"source": None})


def test_base_dir_defaults_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert FlowSpec().base_dir == Path.cwd()
    assert FlowSpec().source is None
