"""Manuscripts and API helpers shared by the character tests."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from khipu.manuscripts.parsing import parse_manuscript
from tests.support import TenantHandle, all_items, wait_for_job

CORPUS = Path(__file__).parents[1] / "fixtures" / "pride-and-prejudice.epub"

# Two chapters, two speakers each introduced by name; every line is different, so each one is
# its own synthesis (no two lines share a cache key).
TWO_CHAPTERS = """Chapter 1

Anne and Tom met at the gate of the orchard.

“Good morning, Tom,” said Anne.

“Good morning to you,” said Tom. “The apples are nearly ripe.”

“Then we shall pick them on Sunday,” said Anne.

Chapter 2

Rain fell all week on the orchard.

“Is it still raining?” asked Anne.

“It has not stopped since Tuesday,” said Tom.
"""

# The names the alias rules cluster: Elizabeth, Lizzy and Miss Elizabeth Bennet are one person.
ALIASES = """Chapter 1

Miss Elizabeth Bennet came down to breakfast late. Her father, Mr. Bennet, was reading.

“Lizzy, you are late,” said Mr. Bennet.

“I was walking, papa,” said Elizabeth.

Mrs. Bennet came in with a letter. “Mr. Bennet, read this at once,” said Mrs. Bennet.

“Must I?” said Mr. Bennet.

“Lizzy will read it to me, then,” she said, and Lizzy took it.

“It is from my aunt,” said Lizzy.
"""


@cache
def chapter_one_text() -> bytes:
    """The corpus novel's first chapter, as a plain-text manuscript."""
    manuscript = parse_manuscript(CORPUS.read_bytes())
    first = next(c for c in manuscript.chapters if c.kind == "chapter")
    body = "\n\n".join(p.text for p in first.paragraphs)
    return f"Chapter 1\n\n{body}\n".encode()


async def upload(
    tenant: TenantHandle, project_id: str, text: str | bytes, filename: str = "book.txt"
) -> dict[str, Any]:
    data = text.encode() if isinstance(text, str) else text
    response = await tenant.post(
        f"/api/v1/projects/{project_id}/manuscript", files={"file": (filename, data)}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def start_detection(tenant: TenantHandle, project_id: str, **body: Any) -> str:
    response = await tenant.post(f"/api/v1/projects/{project_id}/characters/detect", json=body)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    assert response.headers["location"] == f"/api/v1/jobs/{job_id}"
    return str(job_id)


async def detect(tenant: TenantHandle, project_id: str, **body: Any) -> dict[str, Any]:
    """Run a detection to its end; the final job."""
    return await wait_for_job(tenant, await start_detection(tenant, project_id, **body))


async def characters(tenant: TenantHandle, project_id: str) -> dict[str, dict[str, Any]]:
    """The project's characters by name."""
    found = await all_items(tenant, f"/api/v1/projects/{project_id}/characters")
    return {c["name"]: c for c in found}


async def segments(tenant: TenantHandle, project_id: str) -> list[dict[str, Any]]:
    """Every segment of the included chapters, in reading order."""
    found = []
    for chapter in await all_items(tenant, f"/api/v1/projects/{project_id}/chapters"):
        if chapter["included"]:
            found += await all_items(tenant, f"/api/v1/chapters/{chapter['id']}/segments")
    return found


def line(found: list[dict[str, Any]], start: str) -> dict[str, Any]:
    """The one dialogue segment starting with `start`."""
    (match,) = [s for s in found if s["kind"] == "dialogue" and s["text"].startswith(start)]
    return match
