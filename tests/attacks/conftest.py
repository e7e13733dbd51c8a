"""Fixtures of the attack suite: one hostile world per test session, one gateway and one node BB per module.

The services are shared by every attack of a module on purpose: each attack must leave them alive and able to
accept the next valid message, so a service that an attack broke fails the tests that follow it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.attacks.forge import Canary, Forge, World, build_world
from tests.support.inprocess import InProcessGateway, InProcessNode, RecordingReceiver

CREATED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
MOMENT = CREATED + timedelta(days=3)


@pytest.fixture(scope="session")
def canary() -> Iterator[Canary]:
    listener = Canary()
    yield listener
    listener.close()


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, canary: Canary) -> World:
    path = tmp_path_factory.mktemp("attack-world") / "workspace"
    return build_world(path, created=CREATED, moment=MOMENT, canary=canary)


@pytest.fixture(scope="session")
def forge(world: World) -> Forge:
    return Forge(world)


@pytest.fixture(scope="module")
def receiver(world: World) -> RecordingReceiver:
    return RecordingReceiver(world.workspace, world.moment)


@pytest.fixture(scope="module")
def gateway(world: World, receiver: RecordingReceiver, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[InProcessGateway]:
    """The gateway in process, on the hostile world, with BB's inbox simulated by :class:`RecordingReceiver`."""
    client = InProcessGateway(world.workspace, tmp_path_factory.mktemp("attack-gateway") / "gateway.db",
                              world.moment, receiver)
    yield client
    client.close()


@pytest.fixture(scope="module")
def node(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessNode]:
    """Node BB in process: its inbox is what a delivery (signed by the gateway) reaches."""
    client = InProcessNode(world.workspace, "BB", tmp_path_factory.mktemp("attack-node") / "bb.sqlite", world.moment)
    yield client
    client.close()
