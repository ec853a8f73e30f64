"""The one error table (bot/web/app.py ERRORS): every exception renders its status and zh-TW text, page or JSON."""

from __future__ import annotations

import pytest
from starlette.exceptions import HTTPException
from starlette.routing import Route
from starlette.testclient import TestClient

from bot import messages
from bot.web.app import ERRORS

# An instance of every exception in the table, raised with the text its raisers give it.
SAMPLES = {kind: kind(messages.ticket_resolved("回覆")) for kind in ERRORS}


def raising(exc: Exception):  # type: ignore[no-untyped-def]
    async def endpoint(request):  # type: ignore[no-untyped-def]
        raise exc

    return endpoint


def client_raising(app, exc: Exception) -> TestClient:  # type: ignore[no-untyped-def]
    """The app with two extra routes that raise ``exc``: a page and an API path."""
    for path in ("/boom", "/api/boom"):
        app.router.routes.insert(0, Route(path, raising(exc), methods=["GET", "POST"]))
    return TestClient(app, raise_server_exceptions=False)


def expected(exc: Exception) -> tuple[int, str]:
    status, text = ERRORS[type(exc)]
    return status, text or str(exc)


def test_the_table_covers_the_exceptions_the_handlers_leave_to_it():
    names = {kind.__name__ for kind in ERRORS}
    assert {
        "UnknownTicket",
        "TicketConflict",
        "UnknownConversation",
        "UnknownTurn",
        "BadFilter",
        "BadCorrection",
        "RasaUnavailable",
    } <= names


@pytest.mark.parametrize("exc", list(SAMPLES.values()), ids=lambda e: type(e).__name__)
def test_every_exception_in_the_table_renders_its_status_and_text_on_a_page_and_as_json(app, exc):
    client = client_raising(app, exc)
    status, text = expected(exc)
    page = client.get("/boom")
    assert page.status_code == status and text in page.text and "text/html" in page.headers["content-type"]
    api = client.get("/api/boom")
    assert api.status_code == status and api.json() == {"error": {"code": status, "message": text}}


@pytest.mark.parametrize("exc", list(SAMPLES.values()), ids=lambda e: type(e).__name__)
def test_the_page_script_gets_json_on_any_path(app, exc):
    status, text = expected(exc)
    reply = client_raising(app, exc).post("/boom", headers={"X-Requested-With": "fetch"})
    assert reply.status_code == status and reply.json()["error"]["message"] == text


def test_a_subclass_gets_its_own_entry_before_its_parents():
    from bot.ops.review import UnknownConversation, UnknownTurn

    kinds = list(ERRORS)
    assert kinds.index(UnknownTurn) < kinds.index(UnknownConversation)
    assert ERRORS[UnknownTurn] != ERRORS[UnknownConversation]


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (HTTPException(404), 404, messages.NO_PAGE),
        (HTTPException(405), 405, messages.NOT_SUPPORTED),
        (HTTPException(400, messages.CHOOSE_COLLEAGUE), 400, messages.CHOOSE_COLLEAGUE),
        (RuntimeError("a stack trace nobody should see"), 500, messages.SERVER_ERROR),
    ],
)
def test_other_errors_keep_their_status_and_never_show_internals(app, exc, status, text):
    client = client_raising(app, exc)
    for path in ("/boom", "/api/boom"):
        reply = client.get(path)
        assert reply.status_code == status and text in reply.text and "stack trace" not in reply.text


def test_an_unknown_url_and_a_wrong_method_read_in_zh_tw(client):
    assert client.get("/no-such-page").status_code == 404 and messages.NO_PAGE in client.get("/no-such-page").text
    assert client.get("/api/no-such").json() == {"error": {"code": 404, "message": messages.NO_PAGE}}
    assert messages.NOT_SUPPORTED in client.get("/console/logout").text
