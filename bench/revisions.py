"""Another commit's files for a bench's `--before REV` / `--after REV`: exported, never checked out.

A bench compares two trees in one process (or alternating child processes) so both meet the same
load. The work tree is never touched: other people's uncommitted work may be in it.
"""

from __future__ import annotations

import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def export_tree(rev: str, root: Path) -> Path:
    """The files of commit `rev` in a new directory under `root` (one per call, even for one rev)."""
    target = root / f"tree-{len(list(root.iterdir()))}-{rev.replace('/', '_').replace('~', '-')}"
    target.mkdir()
    archive = root / "tree.tar"
    subprocess.run(["git", "archive", "-o", str(archive), rev], cwd=REPO, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()
    return target
