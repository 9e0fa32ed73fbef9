"""Imports every module's tables so the metadata (migrations, tests) sees them all."""

from khipu.analytics.models import UsageEvent
from khipu.audio.models import Review
from khipu.auth.models import RefreshToken
from khipu.characters.models import Character
from khipu.core.audit import AuditEntry
from khipu.jobs.models import Job
from khipu.manuscripts.models import Chapter, Lexicon, Manuscript, Segment
from khipu.packaging.models import Package
from khipu.projects.models import Project, ProjectMember
from khipu.tenants.models import PlatformAuditEntry, Tenant
from khipu.users.models import User

__all__ = [
    "AuditEntry",
    "Chapter",
    "Character",
    "Job",
    "Lexicon",
    "Manuscript",
    "Package",
    "PlatformAuditEntry",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "Review",
    "Segment",
    "Tenant",
    "UsageEvent",
    "User",
]
