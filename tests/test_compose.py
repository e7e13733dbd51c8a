"""docker-compose.yml: checked with a real Compose parser, then run as plain processes with its environment.

No Docker engine runs on the build machines, so this test (1) has Debian's ``docker-compose config`` parse and
validate the file, (2) checks the wiring (init job, health checks, ``depends_on`` conditions, ports), and
(3) starts every service as a separate local process with exactly the command and environment variables the
Compose file gives it. Only what Docker itself would provide is translated: the volume path, service host
names (to 127.0.0.1) and ports (to free loopback ports, since the test may share the machine).
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from exchange.testing.processes import PTX, free_port, stop
from tests.support.needs import require

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
INPUT = REPO / "schemas" / "certificate-of-origin" / "input.yaml"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    tool = str(require("docker-compose"))
    result = subprocess.run([tool, "-f", str(REPO / "docker-compose.yml"), "config"], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_compose_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"init", "gateway", "node-a", "node-b"}
    assert services["gateway"]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    for node in ("node-a", "node-b"):
        assert services[node]["depends_on"]["gateway"]["condition"] == "service_healthy"
    for name in ("gateway", "node-a", "node-b"):
        assert "/readyz" in " ".join(services[name]["healthcheck"]["test"])
        assert services[name]["ports"], f"{name} publishes its port"
    # one volume per service: each service mounts its party's volume alone, only the init job sees them all
    mounts = {name: [volume.split(":")[:2] for volume in services[name]["volumes"]] for name in services}
    assert {name: [volume for volume, _ in mounts[name]] for name in ("gateway", "node-a", "node-b")} == {
        "gateway": ["gateway"], "node-a": ["node-a"], "node-b": ["node-b"]}
    assert all(target == "/workspace" for name in ("gateway", "node-a", "node-b") for _, target in mounts[name])
    assert dict(mounts["init"]) == {"network": "/workspace", "gateway": "/workspace/parties/gateway",
                                    "node-a": "/workspace/parties/AA", "node-b": "/workspace/parties/BB"}
    assert (REPO / "Dockerfile").is_file()


def test_services_run_with_the_compose_environment(compose: dict[str, Any], tmp_path: Path) -> None:
    services = compose["services"]
    workspace = tmp_path / "workspace"
    hosts = {"gateway", "node-a", "node-b"}
    ports = {int(p["target"]): free_port() for name in hosts for p in services[name]["ports"]}

    # each compose volume is a host folder; /workspace in a service is the volume it mounts there
    volume_paths = {volume: Path(str(workspace) + target.removeprefix("/workspace"))
                    for volume, target in (v.split(":")[:2] for v in services["init"]["volumes"])}

    def folder_of(name: str) -> Path:
        [volume] = [v.split(":")[0] for v in services[name]["volumes"] if v.split(":")[1] == "/workspace"]
        return volume_paths[volume]

    def translate(value: str, name: str = "init") -> str:
        value = value.replace("/workspace", str(folder_of(name))).replace("0.0.0.0", "127.0.0.1")
        value = re.sub(r"http://(gateway|node-a|node-b):(\d+)", lambda m: f"http://127.0.0.1:{ports[int(m[2])]}", value)
        return value

    def command(name: str) -> list[str]:
        args = [translate(str(arg), name) for arg in services[name]["command"]]
        return [PTX, *[str(ports.get(int(a), a)) if a.isdigit() else a for a in args]]

    def environment(name: str) -> dict[str, str]:
        return {key: translate(str(value), name) for key, value in services[name].get("environment", {}).items()}

    init = subprocess.run(command("init"), env=environment("init"), capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    started: list[subprocess.Popen[bytes]] = []
    try:
        for name in ("gateway", "node-a", "node-b"):
            log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            started.append(subprocess.Popen(command(name), env=environment(name), stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True))
            healthcheck = [translate(str(part), name) for part in services[name]["healthcheck"]["test"][1:]]
            healthcheck = [re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[int(m[1])]}", part)
                           for part in healthcheck]
            if healthcheck[0] == "python":
                healthcheck[0] = str(Path(PTX).parent / "python")
            deadline = time.monotonic() + 60
            while subprocess.run(healthcheck, capture_output=True, timeout=10).returncode != 0:
                assert started[-1].poll() is None, (tmp_path / f"{name}.log").read_text()
                assert time.monotonic() < deadline, f"{name} never became healthy"
                time.sleep(0.2)
        node_a = f"http://127.0.0.1:{ports[8001]}"
        from exchange._builder import load_input

        sent = httpx.post(f"{node_a}/v1/outbox", json={"to": "BB", "type": "certificate-of-origin",
                                                        "data": load_input(INPUT)}, timeout=30)
        assert sent.status_code == 201, sent.text
        message_id = sent.json()["message_id"]
        deadline = time.monotonic() + 60
        while True:
            body = httpx.get(f"{node_a}/v1/outbox/{message_id}", timeout=10).json()
            if body["status"] == "ACKNOWLEDGED" and body["receipt"]["verified"]:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
    finally:
        for process in started:
            stop(process)
