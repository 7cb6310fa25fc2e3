"""Start-up does not print Alembic's plugin announcements: on a fresh install with the root logger
at INFO, seven "setup plugin alembic.autogenerate…" lines followed the first-run setup link. They
are logged when Alembic is first imported, so the check migrates a database in a fresh interpreter."""

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(name)s %(message)s")
from assistant.governance.db import open_database
from assistant.governance.settings import GovernanceSettings
open_database(GovernanceSettings(), Path(sys.argv[1])).dispose()
"""


def test_migrating_at_start_up_logs_no_alembic_plugin_lines(tmp_path: Path) -> None:
    command = [sys.executable, "-c", SCRIPT, str(tmp_path)]
    run = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "alembic.runtime.migration" in run.stdout  # the capture works: the migration is logged
    assert "alembic.runtime.plugins" not in run.stdout
