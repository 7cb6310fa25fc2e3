"""Files that replicas share: element files and staged uploads go where the settings say.

The default stays under the data directory (one process); a deployment names one shared directory
for every replica and worker. A queue that cannot be shared (procrastinate on SQLite) is refused
at start-up with the setting to change, never quietly run per process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.governance.component import build_governance
from assistant.governance.settings import GovernanceSettings
from assistant.pipeline import ModelSet
from assistant.ui.datalayer import data_layer_for
from assistant.uploads.queue_app import QueueNotAvailable
from assistant.uploads.service import build_upload_service, staging_root
from assistant.uploads.settings import UploadSettings
from assistant.uploads.worker import SummaryWorker
from assistant.worker_cli import sharing_problem
from knowledge.settings import ParsingSettings
from models.fakes import FunctionModel
from tests.test_summarize_logic import KeywordPrivacy


def test_element_files_default_to_the_data_directory_and_move_by_setting(tmp_path: Path) -> None:
    default = build_governance(GovernanceSettings(), tmp_path / "one")
    assert default.files_dir == tmp_path / "one" / "files"
    default.close()
    shared = tmp_path / "shared" / "files"
    governance = build_governance(GovernanceSettings(files_dir=shared), tmp_path / "two")
    try:
        assert data_layer_for(governance).storage.path_for("alice/e1") == shared / "alice" / "e1"
    finally:
        governance.close()


def test_staged_uploads_default_to_the_data_directory_and_move_by_setting(tmp_path: Path) -> None:
    assert staging_root(UploadSettings(), tmp_path / "data") == tmp_path / "data" / "uploads"
    settings = UploadSettings(shared_dir=tmp_path / "shared")
    assert staging_root(settings, tmp_path / "data") == tmp_path / "shared" / "uploads"


def _service(settings: UploadSettings, data_dir: Path, role: str = "app"):  # type: ignore[no-untyped-def]
    governance = build_governance(GovernanceSettings(), data_dir)
    service = build_upload_service(
        settings=settings, parsing=ParsingSettings(), engine=governance.engine, data_dir=data_dir,
        models=ModelSet(local=FunctionModel(lambda request: "", kind="local")), privacy=KeywordPrivacy(),
        index=None, role=role,  # type: ignore[arg-type]
    )  # fmt: skip
    return service, governance


def test_the_default_runs_jobs_in_the_app(tmp_path: Path) -> None:
    service, governance = _service(UploadSettings(), tmp_path)
    assert isinstance(service.worker, SummaryWorker) and service.worker.shows_results
    assert service.intake.staging.root == tmp_path / "uploads"
    governance.close()


def test_the_queue_on_sqlite_is_refused_with_the_setting_to_change(tmp_path: Path) -> None:
    with pytest.raises(QueueNotAvailable, match="PostgreSQL"):
        _service(UploadSettings(queue="procrastinate"), tmp_path)


def test_a_worker_process_always_runs_jobs_itself(tmp_path: Path) -> None:
    service, governance = _service(UploadSettings(queue="procrastinate"), tmp_path, role="worker")
    assert isinstance(service.worker, SummaryWorker)
    assert not service.worker.shows_results  # the replica following the job shows its end
    governance.close()


def test_the_worker_refuses_settings_it_cannot_share(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from assistant.settings import load_settings

    monkeypatch.setenv("CONFIDANTE_DATA_DIR", str(tmp_path))
    assert "uploads.queue" in (sharing_problem(load_settings()) or "")
    monkeypatch.setenv("CONFIDANTE_UPLOADS__QUEUE", "procrastinate")
    assert "database_url" in (sharing_problem(load_settings()) or "")
    monkeypatch.setenv("CONFIDANTE_GOVERNANCE__DATABASE_URL", "postgresql+psycopg://u@127.0.0.1:1/db")
    assert "chroma.mode" in (sharing_problem(load_settings()) or "")
    monkeypatch.setenv("CONFIDANTE_KNOWLEDGE__CHROMA__MODE", "http")
    assert sharing_problem(load_settings()) is None
