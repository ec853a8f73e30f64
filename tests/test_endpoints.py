"""endpoints.yml as `make run` uses it: the variables the Makefile exports are substituted."""

from pathlib import Path

from rasa.core.utils import AvailableEndpoints

ROOT = Path(__file__).resolve().parent.parent


def read(monkeypatch, var_dir: str, tracker_url: str = "", ops_url: str = "") -> AvailableEndpoints:
    """endpoints.yml with the variables the Makefile exports set as given."""
    for name, value in {
        "BOT_ACTION_URL": "http://127.0.0.1:5999/webhook",
        "BOT_VAR_DIR": var_dir,
        "BOT_ACTION_TOKEN": "t" * 32,
        "BOT_TRACKER_DB_URL": tracker_url,
        "BOT_OPS_DB_URL": ops_url,
    }.items():
        monkeypatch.setenv(name, value)
    return AvailableEndpoints.read_endpoints(str(ROOT / "endpoints.yml"))


def test_endpoints_file_reads_the_action_url_and_var_dir_from_the_environment(monkeypatch):
    endpoints = read(monkeypatch, "/srv/bot-state")
    assert endpoints.action.url == "http://127.0.0.1:5999/webhook"
    assert endpoints.tracker_store.kwargs["db"] == "/srv/bot-state/rasa_tracker.db"
    assert endpoints.event_broker.kwargs["db"] == "/srv/bot-state/ops.db"
    assert endpoints.tracker_store.type == "bot.privacy.stores.MaskingSQLTrackerStore"
    assert endpoints.event_broker.type == "bot.privacy.stores.MaskingSQLEventBroker"


def test_database_urls_in_the_environment_replace_the_sqlite_files(monkeypatch):
    endpoints = read(
        monkeypatch, "var", "postgresql://postgres@127.0.0.1:5432/tracker", "postgresql://postgres@127.0.0.1:5432/ops"
    )
    assert endpoints.tracker_store.url == "postgresql://postgres@127.0.0.1:5432/tracker"
    assert endpoints.event_broker.url == "postgresql://postgres@127.0.0.1:5432/ops"


def test_services_run_without_rasa_telemetry():
    import sys

    from bot import supervisor

    assert supervisor.quiet_env({"PATH": "/bin"})["RASA_TELEMETRY_ENABLED"] == "false"
    assert supervisor.services(sys.executable, ROOT / "models" / "m.tar.gz", "t", web_port=8000)[-1].name == "web"
