"""What the parser child says on stdout: a ready line once start-up is done, then one JSON reply.

Shared by `sandbox` (the parent) and `worker` (the child) so the two cannot drift apart.
"""

from __future__ import annotations

READY = b"ready\n"
