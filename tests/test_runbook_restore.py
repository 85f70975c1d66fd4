"""The runbook's restore steps, run as written (less sudo and systemctl), bring a project back from a
`hero-assistance backup` onto an empty disk: with attachments and without any."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hero_assistance.core import Caller, ProjectConfig, open_project

from .conftest import b64, png_bytes

RUNBOOK = Path(__file__).resolve().parent.parent / "runbook" / "README.md"
CUSTOMER = "ann@example.com"


def restore_script(backup: Path, data: Path) -> str:
    """The runbook's restore block, for this machine: our folders, no service manager, no user switch."""
    text = RUNBOOK.read_text(encoding="utf-8")
    block = re.search(r"^Restore:\n\n```sh\n(.*?)^```", text, re.S | re.M)
    assert block, "the runbook has no restore steps"
    lines = [line for line in block.group(1).splitlines() if "systemctl" not in line]
    script = "\n".join(lines).replace("sudo -u hero ", "")
    script = script.replace("/var/backups/hero/acme", str(backup)).replace(
        "/var/lib/hero/hero_assistance/acme", str(data)
    )
    assert "/var/" not in script, script
    return script


async def fill(data: Path, *, with_attachment: bool) -> tuple[int, list[int]]:
    async with open_project(ProjectConfig(name="acme", data_dir=data)) as project:
        await project.call("user.enroll", email=CUSTOMER, role="customer")
        ann = Caller.from_user(CUSTOMER)
        ids = []
        if with_attachment:
            upload = await project.call(
                "attachment.upload", ann, filename="shot.png", content_type="image/png", data=b64(png_bytes())
            )
            ids.append(upload["id"])
        ticket = await project.call("ticket.create", ann, title="Kept", body="in the backup", attachment_ids=ids)
        return ticket["id"], ids


@pytest.mark.parametrize("with_attachment", [True, False], ids=["attachments", "no-attachments"])
async def test_the_runbook_restores_a_backup_onto_an_empty_disk(tmp_path: Path, with_attachment: bool) -> None:
    data, backup = tmp_path / "data", tmp_path / "backup"
    ticket_id, attachment_ids = await fill(data, with_attachment=with_attachment)
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "hero_assistance",
            "backup",
            "--project",
            "acme",
            "--data-dir",
            str(data),
            "--to",
            str(backup),
        ],
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    originals = (
        sorted(p.relative_to(data) for p in (data / "attachments").rglob("*") if p.is_file()) if with_attachment else []
    )
    shutil.rmtree(data)  # the disk is lost

    restored = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", restore_script(backup, data)], capture_output=True, text=True
    )
    assert restored.returncode == 0, restored.stderr

    async with open_project(ProjectConfig(name="acme", data_dir=data)) as project:
        ticket = await project.call("ticket.get", Caller.from_user(CUSTOMER), id=ticket_id)
        assert ticket["title"] == "Kept"
        assert [a["id"] for a in ticket.get("attachments", [])] == attachment_ids
    if with_attachment:
        assert (
            originals
            and sorted(p.relative_to(data) for p in (data / "attachments").rglob("*") if p.is_file()) == originals
        )
