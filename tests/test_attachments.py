"""Attachments: images recognised by content, size-capped, thumbnailed, content-addressed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hero_assistance.core import InvalidParams, Limits, PayloadTooLarge, Project, ProjectConfig, open_project

from .conftest import Desk, FakeClock, b64, png_bytes


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
async def test_each_accepted_format_is_recognised_by_its_bytes(
    project: Project, desk: Desk, fmt: str, content_type: str
) -> None:
    data = png_bytes(640, 480, fmt=fmt)
    uploaded = await desk.alice.call(
        project, "attachment.upload", filename="../../etc/passwd.bin", content_type="application/x-lies", data=b64(data)
    )
    assert uploaded["content_type"] == content_type
    assert (uploaded["width"], uploaded["height"], uploaded["size"]) == (640, 480, len(data))
    assert uploaded["filename"] == "passwd.bin"
    path, served_type, _ = project.services.attachments.open_for(project.resolve(desk.alice.caller), uploaded["id"])
    assert path.read_bytes() == data and served_type == content_type
    thumb, thumb_type, _ = project.services.attachments.open_for(
        project.resolve(desk.alice.caller), uploaded["id"], thumb=True
    )
    with Image.open(thumb) as img:
        assert max(img.size) <= 320 and thumb_type == "image/png"


async def test_non_images_and_liars_are_refused(project: Project, desk: Desk) -> None:
    for data in (b"%PDF-1.7 not an image", b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, b"<svg></svg>"):
        with pytest.raises(PayloadTooLarge):
            await desk.alice.call(
                project, "attachment.upload", filename="x.png", content_type="image/png", data=b64(data)
            )
    with pytest.raises(InvalidParams) as err:
        await desk.alice.call(
            project, "attachment.upload", filename="x.png", content_type="image/png", data="not base64!!"
        )
    assert err.value.data["field"] == "data"


async def test_uploads_over_the_cap_are_refused(tmp_path: Path, clock: FakeClock) -> None:
    limits = Limits(attachment_max_bytes=2000)
    async with open_project(ProjectConfig(name="acme", data_dir=tmp_path, clock=clock, limits=limits)) as project:
        big = png_bytes(400, 400, color="white")
        noisy = Image.effect_noise((200, 200), 64)
        import io

        out = io.BytesIO()
        noisy.save(out, format="PNG")
        for data in (out.getvalue(),):
            assert len(data) > 2000
            with pytest.raises(PayloadTooLarge):
                await project.call("attachment.upload", filename="n.png", content_type="image/png", data=b64(data))
        assert len(big) < 2000  # a flat image compresses under the cap and is accepted
        await project.call("attachment.upload", filename="b.png", content_type="image/png", data=b64(big))


async def test_same_bytes_are_stored_once_and_pending_uploads_are_cleaned(
    project: Project, desk: Desk, clock: FakeClock
) -> None:
    data = png_bytes(color="green")
    first = await desk.alice.call(
        project, "attachment.upload", filename="a.png", content_type="image/png", data=b64(data)
    )
    second = await desk.bob.call(
        project, "attachment.upload", filename="b.png", content_type="image/png", data=b64(data)
    )
    assert first["sha256"] == second["sha256"] and first["id"] != second["id"]
    files = list((project.config.data_dir / "attachments" / "files").rglob("*"))
    assert len([f for f in files if f.is_file()]) == 1
    # Bob's pending upload is his alone.
    with pytest.raises(Exception, match="not found"):
        await desk.alice.call(project, "attachment.get", id=second["id"])
    await desk.alice.call(project, "ticket.create", title="uses it", attachment_ids=[first["id"]])
    clock.advance(3600)
    removed = await desk.sam.call(project, "attachment.cleanup_pending", older_than_s=600)
    assert removed == {"removed": 1}
    # The file stays: Alice's attached row still refers to the same bytes.
    assert project.services.attachments.path_for(first["sha256"]).exists()
