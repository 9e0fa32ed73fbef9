"""Draft a new Alembic revision from the models: `python scripts/makemigration.py 0002 jobs`.

Starts a throw-away embedded PostgreSQL, upgrades it to head, and autogenerates the difference.
Review the draft: add RLS (`enable_tenant_isolation`) and grants for new tenant-owned tables.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from khipu.core.embedded import start_embedded
from khipu.core.migrations import alembic_config, upgrade


def main(rev_id: str, message: str) -> None:
    with tempfile.TemporaryDirectory() as home:
        servers = start_embedded(Path(home), redis=False)
        try:
            assert servers.migration_database_url
            upgrade(servers.migration_database_url)
            config = alembic_config(servers.migration_database_url)
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
        finally:
            servers.stop()


if __name__ == "__main__":
    main(sys.argv[1], " ".join(sys.argv[2:]))
