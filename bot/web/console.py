"""Staff console: login, queue, ticket page (reply, notes, transfer, resolve), canned replies, triage."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from bot import messages
from bot.categories import CHANNELS, Category
from bot.formats import csv_text
from bot.handoff.tickets import ACTIVE, OUTCOMES, Ticket, TicketConflict, TicketStatus, UnknownTicket
from bot.kb.answers import current_benefits
from bot.kb.query import UnknownScheme
from bot.kb.resolve import schemes_in_conversation
from bot.ops.filters import BadFilter
from bot.triage import MAX_TRIAGE_LINES, triage_results
from bot.web.deps import csv_download, deps, render, taipei_time
from bot.web.rasa_client import HttpParser, RasaUnavailable
from bot.web.security import (
    check_csrf,
    csrf_token,
    current_account,
    current_staff,
    end_session,
    staff_only,
    start_session,
)

logger = logging.getLogger(__name__)
MAX_REPLY = 2000
# The live console: how often a stream looks at the ticket store and the conversation, and how
# long one stream lasts before the browser's EventSource reconnects (it does so by itself).
LIVE_POLL_SECONDS = 0.5
LIVE_STREAM_SECONDS = 120.0
KEEP_ALIVE_SECONDS = 15.0
EVENT_LABELS = {
    "created": "建立服務單",
    "claimed": "接手",
    "transferred": "轉派",
    "replied": "回覆使用者",
    "noted": "新增備註",
    "resolved": "結案",
    "rated": "使用者評分",
    "redacted": "移除個資",
    "unsent": "使用者收回訊息（已自逐字稿移除）",
    "withdrawn": "來電者撤回轉接",
    "caller_message": "來電者傳來新訊息",
}
QUEUE_VIEWS = {
    "active": ("處理中的工作（待處理＋處理中）", ACTIVE),
    "open": ("待處理", (TicketStatus.OPEN,)),
    "claimed": ("處理中", (TicketStatus.CLAIMED,)),
    "resolved": ("已結案", (TicketStatus.RESOLVED,)),
    "withdrawn": ("來電者已撤回", (TicketStatus.WITHDRAWN,)),
    "all": ("全部", ()),
}


def describe_event(event: dict[str, Any]) -> str:
    """A ticket event as staff read it: 「接手（mei）」, 「結案：已回電（mei）」, 「使用者評分 4／5」."""
    detail = event.get("detail") or {}
    text = EVENT_LABELS.get(event["kind"], event["kind"])
    if event["kind"] == "transferred" and detail.get("to"):
        text += f"給 {detail['to']}"
    if event["kind"] == "resolved" and detail.get("outcome") in OUTCOMES:
        text += "：" + OUTCOMES[detail["outcome"]]
    if event["kind"] == "rated" and detail.get("rating"):
        text += f" {detail['rating']}／5"
    if event["kind"] == "created" and detail.get("kind") == "disaster_report":
        text = "建立災情通報"
    return text + (f"（{event['actor']}）" if event.get("actor") else "")


async def login_page(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "console/login.html")
    form = await check_csrf(request)
    username, password = form.get("username", "").strip()[:64], form.get("password", "")[:1024]
    address = request.client.host if request.client else "-"  # a trusted proxy's client (TrustedProxies)
    store = deps(request).staff
    wait = math.ceil(store.retry_after(username, address))
    if wait:  # slowed down, never locked: the right password from elsewhere still works (review H3)
        response = render(request, "console/login.html", status_code=429, error=f"登入失敗次數較多，請{wait}秒後再試。")
        response.headers["Retry-After"] = str(wait)
        return response
    if not await run_in_threadpool(store.verify, username, password, address):  # scrypt off the event loop (L7)
        return render(request, "console/login.html", status_code=401, error="帳號或密碼錯誤。")
    start_session(request, username)
    logger.info("staff %s logged in", username)
    return RedirectResponse("/console", status_code=303)


@staff_only
async def logout(request: Request) -> Response:
    await check_csrf(request)
    end_session(request)
    return RedirectResponse("/console/login", status_code=303)


def _may_act(request: Request, ticket: Ticket, what: str) -> None:
    """Only the assignee or a supervisor may reply to, transfer or resolve a claimed ticket (review L2)."""
    account = current_account(request)
    if ticket.assignee and account and ticket.assignee != account.username and not account.supervisor:
        raise HTTPException(403, messages.ticket_of_colleague(ticket.assignee, what))


def finished(ticket: Ticket, what: str) -> TicketConflict | None:
    """Why a finished ticket cannot be replied to, transferred or resolved (409, zh-TW); None while it is open.

    A withdrawn ticket is finished as the caller chose: the bot answers them again, so a
    staff message would land in the middle of that, and resolving would ask them to rate
    help they declined. Staff still have the number they left, and notes stay open.
    """
    if ticket.status is TicketStatus.WITHDRAWN:
        return TicketConflict(messages.ticket_withdrawn(what))
    if ticket.status is TicketStatus.RESOLVED:
        return TicketConflict(messages.ticket_resolved(what))
    return None


def _ticket_for(request: Request, ticket_id: int, what: str) -> Ticket:
    """The ticket staff act on: 404 if unknown, 409 if finished (:func:`finished`), 403 if a colleague's."""
    ticket = deps(request).tickets.get(ticket_id)
    refusal = finished(ticket, what)
    if refusal is not None:
        raise refusal
    _may_act(request, ticket, what)
    return ticket


def _conflict(request: Request, ticket_id: int, what: str, otherwise: str) -> TicketConflict:
    """A 409 for an action that lost a race: finished meanwhile (:func:`finished`) or ``otherwise``."""
    return finished(deps(request).tickets.get(ticket_id), what) or TicketConflict(otherwise)


def _choice(request: Request, name: str, allowed: set[str]) -> str | None:
    value = request.query_params.get(name) or None
    if value is not None and value not in allowed:
        raise BadFilter(messages.queue_bad_filter(name))
    return value


def _queue_context(request: Request) -> dict[str, Any]:
    view = _choice(request, "status", set(QUEUE_VIEWS)) or "active"
    category = _choice(request, "category", {c.value for c in Category})
    channel = _choice(request, "channel", set(CHANNELS))
    store = deps(request).tickets
    tickets = store.queue(QUEUE_VIEWS[view][1], category, channel)
    # The caller's messages since the last staff reply, on tickets still waiting for staff.
    unanswered = store.unanswered([t.id for t in tickets if t.status in ACTIVE])
    return {
        "tickets": tickets,
        "status": view,
        "views": QUEUE_VIEWS,
        "category": category,
        "channel": channel,
        "unanswered": unanswered,
    }


@staff_only
async def queue(request: Request) -> Response:
    """The work queue; by default only open work (waiting and being handled), live (console.js)."""
    return render(request, "console/queue.html", **_queue_context(request))


@staff_only
async def queue_rows(request: Request) -> Response:
    """The queue table alone, for the live page to swap in when a ticket changes."""
    return render(request, "console/_queue_rows.html", **_queue_context(request))


@staff_only
async def live(request: Request) -> Response:
    """Server-sent events: a ``state`` event whenever the tickets (or the open ticket's conversation) change.

    Each stream polls the shared ticket store (and, for a ticket page, the conversation
    through Rasa's HTTP API) every second, so it works with several web and Rasa
    processes (the scaled profile), where an in-process notification would miss changes
    made elsewhere. The page then fetches the parts that changed.
    """
    d = deps(request)
    ticket_id = request.query_params.get("ticket")
    conversation = None
    if ticket_id is not None:
        if not ticket_id.isdigit() or len(ticket_id) > 12:
            raise UnknownTicket(ticket_id)
        conversation = d.tickets.get(int(ticket_id)).conversation_id

    async def state() -> tuple[dict[str, Any], list[dict[str, Any]] | None]:
        queue_mark, waiting = await run_in_threadpool(d.tickets.change_mark)
        found: dict[str, Any] = {"queue": queue_mark, "open": waiting}
        events = None
        if conversation is not None:
            try:
                events = await d.rasa.events(conversation)
                found["messages"] = sum(1 for e in events if e.get("event") in ("user", "bot"))
                found["caller"] = sum(1 for e in events if e.get("event") == "user")
            except RasaUnavailable:
                found["messages"] = found["caller"] = None
        return found, events

    async def stream() -> AsyncIterator[str]:
        started = quiet_since = time.monotonic()
        last: dict[str, Any] | None = None
        yield "retry: 1000\n\n"
        while time.monotonic() - started < LIVE_STREAM_SECONDS and not await request.is_disconnected():
            now, events = await state()
            if now != last:
                if last is not None and ticket_id is not None:
                    # The changed ticket page goes out in the same stream: no second round trip to Rasa.
                    parts = ticket_parts(request, await _ticket_context(request, int(ticket_id), events))
                    yield f"event: ticket\ndata: {json.dumps(parts, ensure_ascii=False)}\n\n"
                yield f"event: state\ndata: {json.dumps(now)}\n\n"
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since > KEEP_ALIVE_SECONDS:
                yield ": keep-alive\n\n"
                quiet_since = time.monotonic()
            await asyncio.sleep(LIVE_POLL_SECONDS)

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )


def _ticket_id(request: Request) -> int:
    text = request.path_params["ticket_id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 12):  # a 23-digit id overflowed SQLite (review L5)
        raise UnknownTicket(text)
    return int(text)


async def _ticket_context(
    request: Request, ticket_id: int | None = None, rasa_events: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """What a ticket page shows; ``rasa_events`` when the caller already fetched the conversation."""
    d = deps(request)
    ticket_id = _ticket_id(request) if ticket_id is None else ticket_id
    ticket = d.tickets.get(ticket_id)
    from bot.handoff.transcript import TICKET_LINES, transcript

    lines, rasa_error = ticket.transcript, None
    try:
        lines = transcript(
            rasa_events if rasa_events is not None else await d.rasa.events(ticket.conversation_id), limit=TICKET_LINES
        )
    except RasaUnavailable:
        rasa_error = "目前無法連線到機器人伺服器，以下是建單當時的對話紀錄。"
    events = d.tickets.events(ticket_id)
    return {
        "ticket": ticket,
        "lines": lines,
        "rasa_error": rasa_error,
        "events": events,
        "withdrawn_at": next((e["at"] for e in reversed(events) if e["kind"] == "withdrawn"), None),
        "outcome": next(
            (
                OUTCOMES.get((e["detail"] or {}).get("outcome") or "")
                for e in reversed(events)
                if e["kind"] == "resolved"
            ),
            None,
        ),
        "colleagues": [u for u in d.staff.usernames() if u != current_staff(request)],
        "describe_event": describe_event,
        "outcomes": OUTCOMES,
    }


def ticket_parts(request: Request, context: dict[str, Any]) -> dict[str, str]:
    """The parts of a ticket page that change (head, transcript, actions, log) as HTML, and its state."""
    templates = deps(request).templates
    parts = {
        part: templates.get_template(f"console/_ticket_{part}.html").render(
            request=request, csrf=csrf_token(request), staff=current_staff(request), taipei=taipei_time, **context
        )
        for part in ("head", "transcript", "actions", "log")
    }
    ticket = context["ticket"]
    return {**parts, "state": f"{ticket.status.value}:{ticket.assignee or ''}"}


@staff_only
async def ticket_live(request: Request) -> Response:
    """The changing parts of a ticket page, for console.js after a reply or a ticket change."""
    return JSONResponse(ticket_parts(request, await _ticket_context(request)))


@staff_only
async def ticket_page(request: Request) -> Response:
    d = deps(request)
    context = await _ticket_context(request)
    ticket = context["ticket"]
    d.staff.log_access(ticket.id, current_staff(request) or "", "view")  # who read which caller's details
    schemes = []
    # Tickets from tapped buttons may name no scheme: the resolver reads them off the conversation.
    for scheme_id in ticket.schemes or (schemes_in_conversation(d.kb, context["lines"]) if d.kb else []):
        try:
            scheme = d.kb.scheme(scheme_id) if d.kb else None
        except UnknownScheme:
            scheme = None
        if scheme and d.kb:
            schemes.append(
                {
                    "scheme": scheme,
                    "status": d.kb.status(scheme).value if d.kb else "",
                    "facts": [b.text for b in current_benefits(scheme, d.kb.clock.today())][:3],
                }
            )
    return render(
        request,
        "console/ticket.html",
        schemes=schemes,
        notes=d.tickets.notes(ticket.id),
        canned=d.tickets.canned(),
        **context,
    )


def _back(ticket_id: int, flash: str | None = None, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(
        f"/console/tickets/{ticket_id}" + (f"?flash={flash}" if flash else "") + (f"#{anchor}" if anchor else ""),
        status_code=303,
    )


def wants_json(request: Request) -> bool:
    """console.js posts with ``X-Requested-With: fetch`` and stays on the page; plain forms get a redirect."""
    return request.headers.get("x-requested-with") == "fetch"


@staff_only
async def claim(request: Request) -> Response:
    await check_csrf(request)
    ticket_id = _ticket_id(request)
    if not deps(request).tickets.claim(ticket_id, current_staff(request) or ""):
        raise _conflict(request, ticket_id, "接手", messages.TICKET_CLAIMED_BY_OTHER)
    return _back(ticket_id)


@staff_only
async def reply(request: Request) -> Response:
    form = await check_csrf(request)
    d, ticket_id, staff = deps(request), _ticket_id(request), current_staff(request) or ""
    text = form.get("text", "").strip()
    if not text or len(text) > MAX_REPLY:
        raise HTTPException(400, messages.reply_length(MAX_REPLY))
    ticket = _ticket_for(request, ticket_id, "回覆")
    try:
        d.tickets.reply(ticket_id, staff, text)  # stored first: the user's client picks it up (REST)
    except TicketConflict as exc:  # withdrawn or resolved since the check above
        raise _conflict(request, ticket_id, "回覆", messages.TICKET_CANNOT_REPLY) from exc
    d.staff.log_access(ticket_id, staff, "reply")
    relayed = True
    try:
        await d.rasa.relay_staff_message(ticket.conversation_id, text, staff)
    except RasaUnavailable:
        relayed = False
        logger.warning("reply on ticket %s stored but not sent through Rasa", ticket_id)
    if wants_json(request):
        return JSONResponse(
            {"ok": True, "message": "已送出回覆。" if relayed else "回覆已儲存，但暫時無法即時送到對話。"}
        )
    return _back(ticket_id, "sent", "reply")


@staff_only
async def note(request: Request) -> Response:
    form = await check_csrf(request)
    text = form.get("text", "").strip()
    if not text or len(text) > MAX_REPLY:
        raise HTTPException(400, messages.note_length(MAX_REPLY))
    ticket_id = _ticket_id(request)
    deps(request).tickets.add_note(ticket_id, current_staff(request) or "", text)
    return _back(ticket_id)


@staff_only
async def transfer(request: Request) -> Response:
    form = await check_csrf(request)
    d, ticket_id = deps(request), _ticket_id(request)
    to = form.get("to", "")
    if to not in d.staff.usernames():
        raise HTTPException(400, messages.CHOOSE_COLLEAGUE)
    _ticket_for(request, ticket_id, "轉派")
    d.staff.log_access(ticket_id, current_staff(request) or "", f"transfer:{to}")
    try:
        d.tickets.transfer(ticket_id, current_staff(request) or "", to)
    except TicketConflict as exc:
        raise _conflict(request, ticket_id, "轉派", messages.TICKET_TRANSFER_CLAIMED_ONLY) from exc
    return _back(ticket_id)


@staff_only
async def resolve(request: Request) -> Response:
    form = await check_csrf(request)
    d, ticket_id = deps(request), _ticket_id(request)
    _ticket_for(request, ticket_id, "結案")
    d.staff.log_access(ticket_id, current_staff(request) or "", "resolve")
    outcome = form.get("outcome", "")
    if outcome not in OUTCOMES:
        raise HTTPException(400, messages.choose_outcome(list(OUTCOMES.values())))
    try:
        ticket = d.tickets.resolve(ticket_id, current_staff(request) or "", outcome)
    except TicketConflict as exc:
        raise _conflict(request, ticket_id, "結案", messages.ticket_resolved("結案")) from exc
    try:
        for message in await d.rasa.resume_and_ask_rating(ticket.conversation_id):
            if message.get("text"):
                d.tickets.queue_bot_message(ticket_id, message["text"], message.get("buttons") or [])
    except RasaUnavailable:
        logger.warning("ticket %s resolved but the conversation could not be resumed", ticket_id)
        return _back(ticket_id, "resume_failed")
    return _back(ticket_id, "resolved")


@staff_only
async def canned(request: Request) -> Response:
    d = deps(request)
    if request.method == "POST":
        form = await check_csrf(request)
        if form.get("delete"):
            d.tickets.delete_canned(int(form["delete"]) if form["delete"].isdigit() else -1)
        else:
            title, text = form.get("title", "").strip(), form.get("text", "").strip()
            if not title or not text or len(title) > 20 or len(text) > MAX_REPLY:
                raise HTTPException(400, messages.CANNED_FIELDS)
            d.tickets.add_canned(title, text)
        return RedirectResponse("/console/canned", status_code=303)
    return render(request, "console/canned.html", canned=d.tickets.canned())


@staff_only
async def knowledge_page(request: Request) -> Response:
    """What the record keepers should check next (the same lists as `python -m bot kb review`)."""
    from bot.formats import roc_date
    from bot.kb.answers import data_date
    from bot.kb.review import review

    d = deps(request)
    result = review(d.kb) if d.kb else None
    return render(request, "console/knowledge.html", review=result, data_date=data_date, roc_date=roc_date)


@staff_only
async def triage_page(request: Request) -> Response:
    if request.method == "GET":
        return render(request, "console/triage.html", results=None, text="")
    form = await check_csrf(request)
    text = form.get("text", "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or len(lines) > MAX_TRIAGE_LINES or any(len(line) > 5000 for line in lines):
        raise HTTPException(400, messages.triage_lines(MAX_TRIAGE_LINES))
    results = await triage_results(HttpParser(deps(request).rasa), deps(request).kb, lines)
    if form.get("format") == "csv":
        return csv_response(results)
    return render(request, "console/triage.html", results=results, text=text)


def csv_response(results: list[dict[str, Any]]) -> Response:
    rows = [
        [
            r["id"],
            r["text"],
            r["category"],
            r["intent"],
            r["confidence"],
            "; ".join(f"{e['entity']}={e['value']}" for e in r["entities"]),
            " ".join(r["schemes"]),
        ]
        for r in results
    ]
    return csv_download(
        csv_text(["line", "text", "category", "intent", "confidence", "entities", "schemes"], rows), "triage.csv"
    )
