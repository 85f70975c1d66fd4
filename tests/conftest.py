"""Shared fixtures: a real project on a real SQLite file, and the people of a small help desk."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from PIL import Image

from hero_assistance.core import Caller, Limits, Project, ProjectConfig, open_project


class FakeClock:
    """A wall clock the test moves by hand (token expiry, rate windows, composing expiry)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(microseconds=1)  # strictly increasing, like real time
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def png_bytes(width: int = 40, height: int = 30, color: str = "red", fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def project_config(tmp_path: Path, clock: FakeClock) -> ProjectConfig:
    return ProjectConfig(name="acme", data_dir=tmp_path / "acme", clock=clock, limits=Limits())


@pytest.fixture
async def project(project_config: ProjectConfig) -> AsyncIterator[Project]:
    async with open_project(project_config) as opened:
        yield opened


@attrs.define
class Person:
    caller: Caller
    user_id: int | None
    email: str | None

    async def call(self, project: Project, method: str, **params: Any) -> Any:
        return await project.call(method, self.caller, **params)


@attrs.define
class Desk:
    """Anonymous device, two customers, a support agent and an admin, each on a bound device."""

    anon: Person
    alice: Person
    bob: Person
    sam: Person
    ada: Person

    def roles(self) -> dict[str, Person]:
        return {"anon": self.anon, "alice": self.alice, "bob": self.bob, "sam": self.sam, "ada": self.ada}


async def enroll_on_device(project: Project, email: str, role: str, device: str) -> Person:
    user = await project.call("user.enroll", email=email, role=role, display_name=email.split("@")[0].title())
    invite = await project.call("auth.issue_magic_link", email=email)
    caller = Caller.from_device(device)
    await project.call("auth.consume_magic_link", caller, token=invite["token"], device_label="test device")
    return Person(caller, user["id"], email)


@pytest.fixture
async def desk(project: Project) -> Desk:
    return Desk(
        anon=Person(Caller.from_device("400::dead"), None, None),
        alice=await enroll_on_device(project, "alice@example.com", "customer", "400::a"),
        bob=await enroll_on_device(project, "bob@example.com", "customer", "400::b"),
        sam=await enroll_on_device(project, "sam@example.com", "support", "400::5"),
        ada=await enroll_on_device(project, "ada@example.com", "admin", "400::ad"),
    )
