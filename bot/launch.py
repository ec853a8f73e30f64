"""Entry points of the Rasa server and the action server: ``python -m bot.launch rasa|actions …``.

Both wrap the stock programs with what the security review (H2, M2, M3, M5) found missing:

- files they create (SQLite databases, their -wal/-shm, logs) are private: ``umask 077``;
- secrets must be real: a placeholder such as ``change-me`` or anything shorter than 32
  characters stops start-up, naming the variable;
- ``rasa``: the API token comes from ``BOT_RASA_TOKEN`` in the environment and is handed
  to Rasa inside this process, so it never appears on a command line (``ps`` shows every
  process's arguments to every local account, but a process's environment only to its owner);
- ``actions``: the action server listens on 127.0.0.1 unless ``SANIC_HOST`` says otherwise
  (the deployment files set it inside a private network) and answers ``/webhook`` and
  ``/actions`` only with the shared secret ``BOT_ACTION_TOKEN`` in the ``X-Action-Token``
  header, which Rasa sends (``action_endpoint.headers`` in the endpoints files);
- request bodies are capped (``SANIC_REQUEST_MAX_SIZE``, 64 KB unless set): Sanic's default
  is 100 MB. The action server's cap is its own, 8 MB: Rasa posts it the whole tracker
  (every event of the conversation) and the domain on every call, which passes 64 KB
  after some twenty turns, and only Rasa, holding the token, reaches it.
"""

from __future__ import annotations

import hmac
import logging
import os
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings, SettingsError

ACTION_TOKEN_HEADER = "X-Action-Token"
REQUEST_MAX_SIZE = "65536"
ACTION_REQUEST_MAX_SIZE = "8388608"
# Paths of the action server that answer without the secret (probes of compose and k8s).
OPEN_ACTION_PATHS = frozenset({"/health"})

logger = logging.getLogger(__name__)


def private_files(var_dir: Path | None = None) -> None:
    """Files this process creates are readable by its own account only (databases hold callback numbers,
    transcripts and password hashes); files already in ``var_dir`` that others could read are closed too."""
    os.umask(0o077)
    if var_dir is None or not var_dir.is_dir():
        return
    for path in (var_dir, *var_dir.rglob("*")):
        try:
            mode = path.stat().st_mode
            if mode & 0o077 and not path.is_symlink():
                path.chmod(mode & 0o700)
        except OSError:  # another account's file or one that just went away: leave it
            continue


def _prepare(env: dict[str, str] | os._Environ[str], *secrets: str) -> Settings:
    env.setdefault("SANIC_REQUEST_MAX_SIZE", REQUEST_MAX_SIZE)
    settings = Settings.from_env(env)
    private_files(settings.var_dir)
    settings.require_strong_secrets(*secrets)
    return settings


def rasa_argv(args: list[str], token: str) -> list[str]:
    """``rasa run`` arguments with the token added; they live in this process's memory only."""
    if "--auth-token" in args:
        raise SettingsError("BOT_RASA_TOKEN: pass the token in the environment, never as --auth-token")
    return ["rasa", "run", *args, "--auth-token", token]


# Optional imports that serving a model never uses, refused in the Rasa server's process so they
# cost neither memory nor start-up time (issue #17). TensorFlow's TFLite converter tries
# ``from jax import xla_computation`` and takes an ImportError as "no JAX" (tensorflow/lite/python/
# util.py); JAX is installed beside TensorFlow but only a TFLite conversion of JAX code needs it.
# Importing it added ~64 MiB of resident memory and ~0.8 s to every Rasa start.
SERVER_UNUSED_MODULES = ("jax",)


def refuse_unused_modules(modules: dict[str, Any] | None = None) -> None:
    """Make ``import jax`` (and the other :data:`SERVER_UNUSED_MODULES`) raise ImportError in this process."""
    table: dict[str, Any] = sys.modules if modules is None else modules
    for name in SERVER_UNUSED_MODULES:
        if name not in table:  # already imported (a test process): leave it
            table[name] = None  # the documented way to make an import fail (importlib docs)


def run_rasa(args: list[str]) -> None:
    settings = _prepare(os.environ, "BOT_RASA_TOKEN", "BOT_ACTION_TOKEN")
    refuse_unused_modules()
    from rasa.__main__ import main

    sys.argv = rasa_argv(args, settings.rasa_token or "")
    main()


def token_matches(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def action_app(token: str, package: str = "actions") -> Any:
    """rasa_sdk's Sanic app with the shared-secret check in front of every path but the health probe."""
    from rasa_sdk.endpoint import create_app
    from sanic import response

    app = create_app(package, cors_origins=None)  # only Rasa calls it: no browser, no CORS

    @app.middleware("request")
    async def require_token(request: Any) -> Any:
        if request.path in OPEN_ACTION_PATHS:
            return None
        if not token_matches(request.headers.get(ACTION_TOKEN_HEADER), token):
            return response.json(
                {"error": "unauthorized", "reason": f"the {ACTION_TOKEN_HEADER} header must carry BOT_ACTION_TOKEN"},
                status=401,
            )
        return None

    return app


def run_actions(args: list[str]) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bot.launch actions")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--actions", default="actions")
    options = parser.parse_args(args)
    os.environ["SANIC_REQUEST_MAX_SIZE"] = ACTION_REQUEST_MAX_SIZE  # a long conversation's tracker, not 64 KB
    settings = _prepare(os.environ, "BOT_ACTION_TOKEN")
    from rasa_sdk import utils

    utils.configure_colored_logging("INFO")
    app = action_app(settings.action_token or "", options.actions)
    host = os.environ.get("SANIC_HOST") or "127.0.0.1"
    logger.info("action server on http://%s:%s (X-Action-Token required)", host, options.port)
    app.run(host, options.port, workers=1, access_log=False)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("rasa", "actions"):
        print("usage: python -m bot.launch rasa|actions [arguments]", file=sys.stderr)
        return 2
    try:
        (run_rasa if argv[0] == "rasa" else run_actions)(argv[1:])
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
