"""Start-up migrations do not print Alembic's plugin announcements: on a fresh install with the
root logger at INFO, seven "setup plugin alembic.autogenerate…" lines followed the first-run setup
link. The migration's own logger keeps INFO."""

import logging

import pytest

from assistant.governance.db import alembic_config


def test_alembic_plugin_lines_are_below_the_apps_info_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        alembic_config()
        assert not logging.getLogger("alembic.runtime.plugins").isEnabledFor(logging.INFO)
        assert logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
