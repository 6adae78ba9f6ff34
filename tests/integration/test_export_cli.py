"""`flowserve export` end to end: the real CLI in a subprocess, writing to a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DEMO_FLOW = REPO / "examples" / "linkerd-demo" / "flow.yml"


def _flowserve(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, "-m", "flowserve", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, check=False, text=True, timeout=120)


def test_export_kubernetes_writes_the_demo_manifests(tmp_path):
    result = _flowserve("export", "kubernetes", DEMO_FLOW, "demo-linkerd",
                        "--k8s-namespace", "demo-linkerd", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "demo-linkerd"
    files = sorted(p.name for p in out.iterdir())
    assert files == ["00-namespace.yml", "bulky-executor.yml", "gateway.yml",
                     "slow-executor.yml"]
    assert result.stdout.split() == [f"demo-linkerd/{f}" for f in
                                     ("00-namespace.yml", "gateway.yml", "slow-executor.yml",
                                      "bulky-executor.yml")]
    objects = [o for f in files for o in yaml.safe_load_all((out / f).read_text())]
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["AuthorizationPolicy", "ConfigMap", "Deployment", "MeshTLSAuthentication",
                     "Namespace", "NetworkPolicy", "Server", "Service", "ServiceAccount",
                     "ServiceProfile"]
    assert {o["metadata"].get("namespace", o["metadata"]["name"]) for o in objects} == {
        "demo-linkerd"}
    # a re-export without an executor removes that executor's file, and only generated files
    (out / "notes.yml").write_text("mine: true\n")
    single = tmp_path / "single.yml"
    single.write_text(DEMO_FLOW.read_text().split("  # A bulky Executor")[0])
    (tmp_path / "executor.py").write_text((DEMO_FLOW.parent / "executor.py").read_text())
    result = _flowserve("export", "kubernetes", single, "demo-linkerd",
                        "--k8s-namespace", "demo-linkerd", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "00-namespace.yml", "gateway.yml", "notes.yml", "slow-executor.yml"]


def test_two_flows_share_a_namespace_with_instances(tmp_path):
    for instance in ("blue", "green"):
        result = _flowserve("export", "kubernetes", DEMO_FLOW, instance, "--k8s-namespace",
                            "team", "--instance", instance, "--pod-security", "privileged",
                            cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    names = {}
    for instance in ("blue", "green"):
        objects = [o for f in sorted((tmp_path / instance).iterdir())
                   for o in yaml.safe_load_all(f.read_text()) if o["kind"] != "Namespace"]
        names[instance] = {(o["kind"], o["metadata"]["name"]) for o in objects}
        assert all(o["metadata"]["name"].startswith(f"{instance}-") for o in objects)
    assert not names["blue"] & names["green"]
    namespace = yaml.safe_load((tmp_path / "blue" / "00-namespace.yml").read_text())
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_export_docker_compose_and_dockerfile(tmp_path):
    result = _flowserve("export", "docker-compose", DEMO_FLOW, "compose/flow.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    doc = yaml.safe_load((tmp_path / "compose" / "flow.yml").read_text())
    assert list(doc["services"]) == ["gateway", "slow-executor", "bulky-executor"]
    result = _flowserve("export", "dockerfile", DEMO_FLOW, "build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "docker build -t flowserve-slow-executor:0.1.0 build/slow-executor" in result.stdout
    assert (tmp_path / "build" / "slow-executor" / "app" / "executor.py").is_file()


def test_invalid_exports_are_errors_naming_object_and_field(tmp_path):
    result = _flowserve("export", "kubernetes", DEMO_FLOW, "out", "--k8s-namespace", "Demo_NS",
                        cwd=tmp_path)
    assert result.returncode == 1
    assert "flowserve export: error: Namespace 'Demo_NS': metadata.name" in result.stderr
    assert not (tmp_path / "out").exists()

    flow = tmp_path / "flow.yml"
    flow.write_text("jtype: Flow\nexecutors:\n  - name: enc\n    env: {'bad key': x}\n"
                    "    resources: {limits: {memory: lots}}\n")
    result = _flowserve("export", "kubernetes", flow, "out", cwd=tmp_path)
    assert result.returncode == 1
    assert "2 problem(s)" in result.stderr
    assert "ConfigMap flowserve/enc-env: data.bad key" in result.stderr
    assert "Deployment flowserve/enc: spec.template.spec.containers[0].resources.limits.memory" \
        in result.stderr
    assert not (tmp_path / "out").exists()


def test_export_help_lists_the_formats(tmp_path):
    result = _flowserve("export", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for name in ("kubernetes", "docker-compose", "dockerfile", "prometheus-rules"):
        assert name in result.stdout


def test_export_prometheus_rules_writes_a_file_promtool_accepts(tmp_path):
    from prometheus import promtool

    result = _flowserve("export", "prometheus-rules", "rules/flowserve.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "rules" / "flowserve.yml"
    assert result.stdout.strip() == "rules/flowserve.yml"
    rules = yaml.safe_load(path.read_text())["groups"][0]["rules"]
    assert "FlowserveExecutorQueueWaitHigh" in {r["alert"] for r in rules}
    check = promtool("check", "rules", str(path))
    assert check.returncode == 0, check.stdout + check.stderr
