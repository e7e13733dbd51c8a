"""docker-compose.postgres.yml (profile "postgres"): parsed by a real Compose parser, then its two gateway
replicas run as local processes with exactly its commands and environment, on one PostgreSQL database.

As in tests/test_compose.py, no Docker engine is needed: only what Docker would provide is translated (the
workspace volume path, service host names and ports; the ``postgres`` service becomes a database on the test
session's server).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from exchange._workspace import Workspace
from exchange.testing.postgres import PostgresServer
from exchange.testing.processes import PTX, OperatorAuth, free_port, running_together
from tests.support.messages import signed_envelopes
from tests.support.needs import require

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]
REPO = Path(__file__).resolve().parents[2]
REPLICAS = ("gateway-pg-1", "gateway-pg-2")
XML = {"Content-Type": "application/xml"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    tool = str(require("docker-compose"))
    files = ["-f", str(REPO / "docker-compose.yml"), "-f", str(REPO / "docker-compose.postgres.yml")]
    result = subprocess.run([tool, *files, "--profile", "postgres", "config"], capture_output=True, text=True,
                            timeout=60, cwd=REPO)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def test_profile_wiring(compose: dict[str, Any]) -> None:
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["profiles"] == ["postgres"]
    assert "pg_isready" in postgres["healthcheck"]["test"]
    assert any(volume.startswith("pgdata:") for volume in postgres["volumes"])
    env = postgres["environment"]
    url = urlsplit(services[REPLICAS[0]]["environment"]["PTX_DATABASE_URL"])
    assert (url.scheme, url.hostname, url.port, url.username, url.password, url.path) == (
        "postgresql", "postgres", 5432, env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], "/" + env["POSTGRES_DB"])
    published = set()
    for name in REPLICAS:
        replica = services[name]
        assert replica["profiles"] == ["postgres"]
        assert replica["environment"] == services[REPLICAS[0]]["environment"]  # one database, one configuration
        assert replica["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert replica["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert "/readyz" in " ".join(replica["healthcheck"]["test"])
        assert [volume.split(":")[0] for volume in replica["volumes"]] == ["gateway"]  # the gateway party's volume
        published |= {port["published"] for port in replica["ports"]}
    assert len(published) == len(REPLICAS)
    assert "PTX_DATABASE_URL" not in services["gateway"]["environment"]  # the default stack is unchanged


def test_the_replicas_share_one_store(compose: dict[str, Any], postgres_server: PostgresServer,
                                      tmp_path: Path) -> None:
    services = compose["services"]
    workspace = tmp_path / "workspace"
    init = subprocess.run([PTX, *[str(a).replace("/workspace", str(workspace)) for a in services["init"]["command"]]],
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    ports = {name: free_port() for name in REPLICAS}
    nowhere = free_port()  # the nodes are not part of this test: deliveries wait for them

    with postgres_server.database("ptx_compose") as database:
        def environment(name: str) -> dict[str, str]:
            env = {key: str(value) for key, value in services[name]["environment"].items()}
            env["PTX_WORKSPACE"] = str(workspace / "parties" / "gateway")  # what the gateway volume holds
            env["PTX_DATABASE_URL"] = database  # the compose service "postgres" is the test server here
            env["PTX_NODE_URLS"] = re.sub(r"http://node-[ab]:\d+", f"http://127.0.0.1:{nowhere}", env["PTX_NODE_URLS"])
            return env

        commands = [[PTX, *[str(ports[name]) if str(a) == "8000" else str(a).replace("0.0.0.0", "127.0.0.1")
                            for a in services[name]["command"]]] for name in REPLICAS]
        envs = [environment(name) for name in REPLICAS]
        assert envs[0] == envs[1]
        bases = [f"http://127.0.0.1:{ports[name]}" for name in REPLICAS]
        with running_together(commands, health_urls=[f"{base}/readyz" for base in bases], env=envs[0],
                              logs=[tmp_path / f"{name}.log" for name in REPLICAS]):
            [(message_id, body)] = signed_envelopes(Workspace.open(workspace), 1, prefix="msg-compose")
            accepted = httpx.post(f"{bases[0]}/v1/messages", content=body, headers=XML, timeout=30)
            assert accepted.status_code == 202, accepted.text
            operator = OperatorAuth(workspace / "parties" / "gateway")  # the token ptx init wrote in the volume
            seen = httpx.get(f"{bases[1]}/v1/messages/{message_id}", timeout=30, auth=operator)
            assert seen.status_code == 200 and seen.json()["verdict"] == "ACCEPTED"
            resend = httpx.post(f"{bases[1]}/v1/messages", content=body, headers=XML, timeout=30)
            assert resend.status_code == 200  # the other replica knows it: one store
            assert httpx.get(f"{bases[1]}/v1/audit/verify", timeout=30, auth=operator).json()["ok"] is True
