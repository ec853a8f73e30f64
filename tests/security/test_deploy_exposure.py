"""The deployment files publish the channels and the web app, never Rasa's HTTP API or the action server
(security review H2, M3). nginx runs for real on deploy/nginx.conf with its upstreams pointed at a local backend."""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bot import supervisor

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def k8s() -> list[dict]:
    return [
        doc
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def test_only_nginx_publishes_a_port_in_compose():
    published = {name: service["ports"] for name, service in compose()["services"].items() if service.get("ports")}
    assert published == {"nginx": ["8080:8080"]}


def test_the_action_server_listens_only_on_the_network_the_rasa_servers_share():
    services, networks = compose()["services"], compose()["networks"]
    actions = services["actions"]
    address = actions["networks"]["actions"]["ipv4_address"]
    assert actions["environment"]["SANIC_HOST"] == address
    assert networks["actions"]["internal"] is True
    members = {name for name, service in services.items() if "actions" in (service.get("networks") or [])}
    assert members == {"actions", "rasa"}
    assert address in services["rasa"]["environment"]["BOT_ACTION_URL"]
    assert services["rasa"]["environment"]["BOT_ACTION_TOKEN"].startswith("${BOT_ACTION_TOKEN:?")


def test_kubernetes_admits_only_the_rasa_pods_to_the_action_server():
    policy = next(d for d in k8s() if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "hotline-actions")
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "hotline-actions"}
    assert policy["spec"]["ingress"] == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "hotline-rasa"}}}],
            "ports": [{"protocol": "TCP", "port": 5055}],
        }
    ]
    ingress = next(d for d in k8s() if d["kind"] == "Ingress")
    backends = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert {path for path, name in backends.items() if name == "hotline-rasa"} == {"/webhooks/", "/socket.io/"}


def commands() -> list[str]:
    found = [
        " ".join(s["command"]) if isinstance(s.get("command"), list) else str(s.get("command", ""))
        for s in compose()["services"].values()
    ]
    for doc in k8s():
        if doc["kind"] == "Deployment":
            found += [" ".join(c["command"]) for c in doc["spec"]["template"]["spec"]["containers"]]
    return found


def test_no_token_is_passed_on_a_command_line():
    assert not [c for c in commands() if "--auth-token" in c or "TOKEN" in c]
    assert (
        sum("bot.launch rasa" in c for c in commands()) == 2 and sum("bot.launch actions" in c for c in commands()) == 2
    )


class Backend(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"backend {self.server.server_port} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_DELETE = do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("nginx")
    rasa, web = (http.server.ThreadingHTTPServer(("127.0.0.1", 0), Backend) for _ in range(2))
    for server in (rasa, web):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    public, internal = supervisor.free_port(), supervisor.free_port()
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    text = (
        text.replace("rasa:5005", f"127.0.0.1:{rasa.server_port}")
        .replace("web:8000", f"127.0.0.1:{web.server_port}")
        .replace("listen 8080;", f"listen 127.0.0.1:{public};")
        .replace("listen 8081;", f"listen 127.0.0.1:{internal};")
        .replace("worker_processes auto;", f"worker_processes 1;\npid {folder / 'nginx.pid'};")
        .replace(
            "http {\n",
            "http {\n"
            + "".join(
                f"    {kind}_temp_path {folder / kind};\n"
                for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            ),
        )
    )
    conf = folder / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    process = subprocess.Popen(
        ["nginx", "-e", str(folder / "error.log"), "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    for _ in range(50):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{public}/nginx-health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail(process.stderr.read().decode() if process.stderr else "nginx did not start")
    yield public, internal, rasa.server_port, web.server_port
    process.terminate()
    process.wait(10)
    rasa.shutdown()
    web.shutdown()


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, data=b"{}" if method != "GET" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/model", "PUT"),
        ("/model", "DELETE"),
        ("/model/parse?token=x", "POST"),
        ("/status", "GET"),
        ("/conversations/victim/tracker", "GET"),
        ("/conversations/victim/tracker/events", "POST"),
        ("/domain", "GET"),
        ("/version", "GET"),
    ],
)
def test_the_public_port_does_not_publish_rasas_http_api(nginx, path, method):
    public, _, rasa, _ = nginx
    status, body = fetch(public, path, method)
    assert status == 404 and f"backend {rasa}" not in body


@pytest.mark.parametrize("path", ["/webhooks/rest/webhook", "/webhooks/line/webhook", "/socket.io/?EIO=4"])
def test_the_public_port_forwards_the_channels_to_rasa(nginx, path):
    public, _, rasa, _ = nginx
    status, body = fetch(public, path, "POST")
    assert status == 200 and body.startswith(f"backend {rasa} {path}")


def test_the_public_port_serves_the_web_app_and_the_internal_one_the_api(nginx):
    public, internal, rasa, web = nginx
    assert fetch(public, "/console")[1].startswith(f"backend {web} /console")
    assert fetch(internal, "/conversations/x/tracker")[1].startswith(f"backend {rasa} /conversations/x/tracker")


def test_the_public_port_cuts_off_slow_clients(nginx):
    """Slowloris (L1): nginx reads every request head itself and gives a client 10 s for it
    (client_header_timeout), so a slow client never reaches Rasa or the web app."""
    from tests.security.slowloris import slow_clients

    lasted = slow_clients(nginx[0], count=5, give_up=20)
    assert None not in lasted, lasted
    assert fetch(nginx[0], "/nginx-health")[0] == 200
