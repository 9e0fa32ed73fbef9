"""Projects: an audiobook in production, its publishing metadata, settings and validators."""
