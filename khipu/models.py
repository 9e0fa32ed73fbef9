"""Imports every module's tables so the metadata (migrations, tests) sees them all."""

from khipu.auth.models import RefreshToken
from khipu.core.audit import AuditEntry
from khipu.jobs.models import Job
from khipu.manuscripts.models import Chapter, Lexicon, Manuscript, Segment
from khipu.projects.models import Project, ProjectMember
from khipu.tenants.models import PlatformAuditEntry, Tenant
from khipu.users.models import User

__all__ = [
    "AuditEntry",
    "Chapter",
    "Job",
    "Lexicon",
    "Manuscript",
    "PlatformAuditEntry",
    "Project",
    "ProjectMember",
    "RefreshToken",
    "Segment",
    "Tenant",
    "User",
]
