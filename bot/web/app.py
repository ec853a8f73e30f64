"""The web app (127.0.0.1:8000): web chat page, staff console and JSON API. One route table, one error handler."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import messages
from bot.clock import clock_from_setting
from bot.handoff.staff import StaffStore, open_staff_store
from bot.handoff.tickets import TicketConflict, TicketStore, UnknownTicket
from bot.handoff.tickets_sql import open_ticket_store
from bot.kb.query import KnowledgeBase
from bot.ops.filters import BadFilter
from bot.ops.review import BadCorrection, Review, UnknownConversation, UnknownTurn
from bot.settings import Settings, SettingsError, is_placeholder, secret_problem
from bot.web import api, chat, console, ops
from bot.web.deps import STATIC, Deps, make_templates, render
from bot.web.rasa_client import RasaClient, RasaUnavailable
from bot.web.security import SecurityHeaders, Sessions, TrustedProxies, parse_networks

logger = logging.getLogger(__name__)
SESSION_HOURS = 8


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def home(request: Request) -> Response:
    return RedirectResponse("/console", status_code=303)


def routes() -> list[Route | Mount]:
    """Every URL of the web app."""
    return [
        Route("/", home),
        Route("/healthz", health),
        Route("/console", console.queue),
        Route("/console/live", console.live),
        Route("/console/queue/rows", console.queue_rows),
        Route("/console/login", console.login_page, methods=["GET", "POST"]),
        Route("/console/logout", console.logout, methods=["POST"]),
        Route("/console/tickets/{ticket_id}", console.ticket_page),
        Route("/console/tickets/{ticket_id}/live", console.ticket_live),
        Route("/console/tickets/{ticket_id}/claim", console.claim, methods=["POST"]),
        Route("/console/tickets/{ticket_id}/reply", console.reply, methods=["POST"]),
        Route("/console/tickets/{ticket_id}/note", console.note, methods=["POST"]),
        Route("/console/tickets/{ticket_id}/transfer", console.transfer, methods=["POST"]),
        Route("/console/tickets/{ticket_id}/resolve", console.resolve, methods=["POST"]),
        Route("/console/canned", console.canned, methods=["GET", "POST"]),
        Route("/console/triage", console.triage_page, methods=["GET", "POST"]),
        Route("/console/knowledge", console.knowledge_page),
        Route("/ops", ops.conversation_list),
        Route("/ops/conversations.csv", ops.conversation_csv),
        Route("/ops/conversation", ops.conversation_page),
        Route("/ops/conversation/review", ops.mark_reviewed, methods=["POST"]),
        Route("/ops/conversation/tag", ops.tag, methods=["POST"]),
        Route("/ops/turn/correct", ops.correct, methods=["POST"]),
        Route("/ops/corrections", ops.corrections_page),
        Route("/ops/corrections/nlu.yml", ops.corrections_yaml),
        Route("/ops/metrics", ops.metrics_page),
        Route("/ops/retrain", ops.retrain_page),
        Route("/ops/retrain/start", ops.retrain_start, methods=["POST"]),
        Route("/ops/retrain/reports/{name}", ops.retrain_report),
        Route("/ops/metrics/{table}.csv", ops.metrics_csv),
        Route("/chat", chat.page),
        Route("/chat/history", chat.history_json),
        Route("/chat/embed.js", chat.embed_js),
        Route("/api/triage", api.api_triage, methods=["POST"]),
        Route("/api/conversations/{conversation_id}/messages", api.api_pickup),
        Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
    ]


# Every exception the handlers let through, and what staff or an API client sees: (status, text);
# text None means the exception's own, which its raiser took from bot.messages. Subclasses first:
# the first entry the exception is an instance of wins.
ERRORS: dict[type[Exception], tuple[int, str | None]] = {
    UnknownTicket: (404, messages.NO_TICKET),
    TicketConflict: (409, None),
    UnknownTurn: (404, messages.NO_TURN),
    UnknownConversation: (404, messages.NO_CONVERSATION),
    BadFilter: (400, None),
    BadCorrection: (400, None),
    RasaUnavailable: (503, messages.RASA_UNAVAILABLE),
}


def error_response(exc: Exception) -> tuple[int, str]:
    """The status and zh-TW text of ``exc``: from ERRORS, an HTTPException's own, or 500 without details."""
    for kind, (status, text) in ERRORS.items():
        if isinstance(exc, kind):
            return status, text or str(exc)
    if not isinstance(exc, HTTPException):
        return 500, messages.SERVER_ERROR
    if exc.status_code == 404 and exc.detail == "Not Found":  # Starlette's own: no route
        return 404, messages.NO_PAGE
    if exc.status_code == 405:
        return 405, messages.NOT_SUPPORTED
    return exc.status_code, str(exc.detail)


def errors_as_json(request: Request) -> bool:
    """The API, the chat's history and console.js (``X-Requested-With: fetch``) read errors as JSON."""
    return request.url.path.startswith(("/api/", "/chat/history")) or console.wants_json(request)


async def handle_error(request: Request, exc: Exception) -> Response:
    """One place for errors (datasette's handle_exception): JSON or a zh-TW page; never a stack trace."""
    status, message = error_response(exc)
    if status == 500:
        logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if errors_as_json(request):
        return JSONResponse({"error": {"code": status, "message": message}}, status_code=status)
    return render(request, "console/error.html", status_code=status, message=message, status=status)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At shutdown, close the stores ``create_app`` opened (a PostgreSQL pool each); stores passed in are the caller's."""
    yield
    for store in app.state.opened:
        store.close()


def create_app(
    settings: Settings,
    tickets: TicketStore | None = None,
    staff: StaffStore | None = None,
    rasa: RasaClient | None = None,
    kb: KnowledgeBase | None = None,
    review: Review | None = None,
) -> Starlette:
    if not settings.session_secret:
        raise SettingsError("BOT_SESSION_SECRET: required to sign console sessions")
    for env, value in (("BOT_SESSION_SECRET", settings.session_secret), ("BOT_API_TOKEN", settings.api_token)):
        if is_placeholder(value):  # forgeable cookies and tokens (review M2); lengths are checked at start-up
            raise SettingsError(f"{env}: {secret_problem(value)}")
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(TrustedProxies, networks=parse_networks(settings.trusted_proxies)),
            Middleware(SecurityHeaders),
            Middleware(
                Sessions,
                always_secure=settings.secure_cookies == "always",
                secret_key=settings.session_secret,
                session_cookie="console_session",
                max_age=SESSION_HOURS * 3600,
                same_site="strict",
            ),
        ],
        exception_handlers={**dict.fromkeys([*ERRORS, HTTPException, Exception], handle_error)},
        lifespan=lifespan,
    )
    app.state.deps = Deps(
        settings=settings,
        tickets=tickets or open_ticket_store(settings),
        staff=staff or open_staff_store(settings),
        rasa=rasa or RasaClient(settings.rasa_url, settings.rasa_token),
        kb=kb
        or (KnowledgeBase(settings.kb_path, clock_from_setting(settings.today)) if settings.kb_path.exists() else None),
        templates=make_templates(),
        ops=review or Review.from_url(settings.ops_db),
    )
    app.state.opened = [
        made for made, given in ((app.state.deps.tickets, tickets), (app.state.deps.staff, staff)) if given is None
    ]
    return app


def app_from_env() -> Starlette:
    """Entry point for uvicorn (``--factory``): settings from the environment."""
    from bot.launch import private_files
    from bot.log import configure
    from bot.privacy.masking import mask_text

    configure(personal=mask_text)
    settings = Settings.from_env(os.environ)
    private_files(settings.var_dir)
    settings.require_strong_secrets("BOT_SESSION_SECRET", "BOT_API_TOKEN")
    return create_app(settings)
