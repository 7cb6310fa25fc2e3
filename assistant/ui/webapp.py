"""Starting the Chainlit web app with all of its state under the data directory.

Chainlit keeps its config, translations and uploaded files under an "app root". We make that
root `DATA_DIR/app`, fill it from the repository's `.chainlit/` and `public/` with the origins
from the settings, and keep the signing secret there (generated once, never logged), so a
second instance or a test server with its own data directory shares nothing with the first.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from pathlib import Path

from assistant.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
APP_FILE = REPO_ROOT / "app.py"
WELCOME = """**Private by default.** Ask about your work and your company's documents. Before anything \
is sent, every message is checked for personal and regulated information:

- **Regulated** content (ID numbers, health, pay, bank details) is answered only by the private \
model on this machine and never leaves it.
- Other messages may go to a hosted model, with names and identifiers replaced by placeholders \
first.
- Under every answer, the **privacy receipt** shows what was found and which model answered.
"""


def prepare_app_root(settings: Settings, *, host: str, port: int) -> Path:
    root = settings.data_dir / "app"
    config_dir = root / ".chainlit"
    config_dir.mkdir(parents=True, exist_ok=True)
    template = (REPO_ROOT / ".chainlit" / "config.toml").read_text(encoding="utf-8")
    origins = list(dict.fromkeys([*settings.server.allowed_origins, *_own_origins(host, port)]))
    rendered = re.sub(
        r"(?m)^allow_origins = .*$",
        "allow_origins = [" + ", ".join(f'"{o}"' for o in origins) + "]",
        template,
    )
    rendered = re.sub(
        r"(?m)^user_session_timeout = .*$",
        f"user_session_timeout = {settings.server.session_timeout_s}",
        rendered,
    )
    (config_dir / "config.toml").write_text(rendered, encoding="utf-8")
    # Our sign-in wording (user names, a plain sentence for a wrong password), before Chainlit
    # copies its defaults (it only fills in missing files).
    from assistant.ui.translations import write_translations

    write_translations(config_dir)
    if (REPO_ROOT / "public").is_dir():
        shutil.copytree(REPO_ROOT / "public", root / "public", dirs_exist_ok=True)
    # Chainlit looks for `chainlit_<browser language>.md` first and logs a warning on every page
    # load when it falls back to chainlit.md; the welcome is English, so English has its own file.
    for name in ("chainlit.md", "chainlit_en-US.md"):
        (root / name).write_text(WELCOME, encoding="utf-8")
    return root


def _own_origins(host: str, port: int) -> list[str]:
    names = {host, "localhost", "127.0.0.1"} if host in ("127.0.0.1", "localhost", "0.0.0.0") else {host}
    return [f"http://{name}:{port}" for name in sorted(names) if name != "0.0.0.0"]


def auth_secret(settings: Settings) -> str:
    """The JWT signing secret: from settings, else generated once into the data directory."""
    if settings.server.auth_secret is not None:
        return settings.server.auth_secret.get_secret_value()
    path = settings.data_dir / "auth_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def chainlit_environment(settings: Settings, *, host: str, port: int) -> dict[str, str]:
    root = prepare_app_root(settings, host=host, port=port)
    env = dict(os.environ)
    # Chainlit's CI mode (the `CI` variable, set by every CI system) writes a fake OPENAI_API_KEY
    # into the server's environment; the server is the same in CI as anywhere else.
    env.pop("CI", None)
    env.update(
        {
            "CHAINLIT_APP_ROOT": str(root),
            "CHAINLIT_AUTH_SECRET": auth_secret(settings),
            "CONFIDANTE_DATA_DIR": str(settings.data_dir),
            "HF_HUB_OFFLINE": "1",
            "ANONYMIZED_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH", "")])),
        }
    )
    return env


def exec_chainlit(settings: Settings, *, host: str, port: int) -> None:
    """Replace this process with `chainlit run app.py` (so signals reach the server directly)."""
    env = chainlit_environment(settings, host=host, port=port)
    # First run: no account yet → a one-time link to create the admin (no second terminal).
    from assistant.ui.first_run import announce_setup_link

    announce_setup_link(settings, host=host, port=port)
    argv = [
        sys.executable,
        "-m",
        "chainlit",
        "run",
        str(APP_FILE),
        "--host",
        host,
        "--port",
        str(port),
        "--headless",
    ]
    os.chdir(env["CHAINLIT_APP_ROOT"])
    os.execve(sys.executable, argv, env)  # noqa: S606 (a fixed argv, no shell)
