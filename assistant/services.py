"""The one factory: builds every service from the settings tree, once, at start-up.

Nothing is loaded at import time anywhere in the project; `build_services` is where models,
the gate, the knowledge base and the database come to life, and `Services.close` is where they
go away. Tests build their own `Services` with fakes where they test logic.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.pipeline import ChatPipeline, ModelSet, TurnObserver
from assistant.privacy import FailClosedPrivacy, Privacy
from assistant.settings import Settings
from models.base import ChatModel
from models.files import locate_package_file, verify_file
from models.hosted import HostedModel, make_client
from models.local import LocalModel
from models.settings import LocalModelSettings

log = logging.getLogger(__name__)


def resolve_local_model(settings: LocalModelSettings) -> Path:
    """The GGUF to load, verified against its pin (refused otherwise)."""
    path = settings.path or locate_package_file(settings.package, settings.package_file)
    verify_file(path, settings.sha256, allow_unpinned=settings.allow_unpinned)
    return path


def build_local_model(settings: Settings) -> LocalModel:
    local = settings.models.local
    return LocalModel(resolve_local_model(local), local)


def build_hosted_models(settings: Settings, count_tokens: Any) -> list[ChatModel]:
    """Strong model first, then the cheap one; empty when nothing hosted is configured."""
    hosted = settings.models.hosted
    if not hosted.configured:
        return []
    client = make_client(hosted)
    names = dict.fromkeys([hosted.models.strong, hosted.models.cheap])  # ordered, de-duplicated
    return [HostedModel(name, hosted, count_tokens=count_tokens, client=client) for name in names]


@dataclass
class Services:
    settings: Settings
    pipeline: ChatPipeline
    models: ModelSet
    privacy: Privacy
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        closer = getattr(self.models.local, "close", None)
        if closer is not None:
            closer()


def build_privacy(settings: Settings) -> Privacy:
    """The real gate; if it cannot load, fail closed (everything stays local) and say why."""
    try:
        from assistant.privacy_gate import build_gate_privacy
    except ImportError as exc:
        return FailClosedPrivacy(f"gate not installed: {exc}")
    try:
        return build_gate_privacy(settings)
    except Exception as exc:
        log.exception("sensitivity gate failed to load; failing closed")
        return FailClosedPrivacy(str(exc))


def build_services(
    settings: Settings,
    *,
    models: ModelSet | None = None,
    privacy: Privacy | None = None,
    observers: list[TurnObserver] | None = None,
) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if models is None:
        local = build_local_model(settings)
        models = ModelSet(local=local, hosted=build_hosted_models(settings, local.count_tokens))
    privacy = privacy or build_privacy(settings)
    pipeline = ChatPipeline(settings=settings, models=models, privacy=privacy, observers=observers or [])
    return Services(settings=settings, pipeline=pipeline, models=models, privacy=privacy)
