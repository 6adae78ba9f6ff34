"""A real Prometheus (Debian's package) for integration tests, and promtool for unit tests.

A plain module (not a conftest). The tests fail, never skip, when the binaries are missing:
scripts/test.sh installs them when run as root. Each test runs its own `prometheus` process on
127.0.0.1 with a temporary storage folder and stops only that process.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from procs import free_port, wait_until

JOB = "flowserve"
INSTALL = ("install Debian's package (apt-get install -y prometheus); "
           "scripts/test.sh installs it when run as root")


def binary(name: str) -> str:
    """The path of `prometheus` or `promtool`; fails the test when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is needed for this test and is missing: {INSTALL}")
    return path


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


class Prometheus:
    """A running Prometheus: its HTTP API at `url`."""

    def __init__(self, url: str, process: subprocess.Popen[str], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log

    def api(self, path: str, **params: str) -> Any:
        reply = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = reply.json()
        assert body["status"] == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector (or scalar as a one-element list) `expr` evaluates to now."""
        data = self.api("query", query=expr)
        if data["resultType"] == "vector":
            return data["result"]
        return [{"metric": {}, "value": data["result"]}]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def targets_up(self, count: int) -> bool:
        active = self.api("targets")["activeTargets"]
        return len(active) == count and all(t["health"] == "up" for t in active)


@contextlib.contextmanager
def prometheus(tmp: Path, targets: Sequence[str], *,
               rule_files: Sequence[Path] = ()) -> Iterator[Prometheus]:
    """Start Prometheus scraping `targets` (``host:port``, ``/metrics``) every second and
    evaluating `rule_files` every second; wait until every target is up."""
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [{"job_name": JOB,
                            "static_configs": [{"targets": list(targets)}]}],
    }
    config_file = tmp / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    check = promtool("check", "config", str(config_file))
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    log = tmp / "prometheus.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [binary("prometheus"), f"--config.file={config_file}",
             f"--storage.tsdb.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--web.enable-lifecycle"],
            stdout=out, stderr=subprocess.STDOUT, text=True)
    server = Prometheus(f"http://127.0.0.1:{port}", process, log)
    try:
        def ready() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                return httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(ready, 60, 0.2), log.read_text()
        assert wait_until(lambda: server.targets_up(len(targets)), 60, 0.2), \
            server.api("targets")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
