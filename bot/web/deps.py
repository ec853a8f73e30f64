"""What the web handlers need, built once per app (app.state.deps)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from bot.categories import CATEGORY_INFO, CHANNELS, Category, category_label, channel_label
from bot.clock import TAIPEI
from bot.handoff.staff import StaffStore
from bot.handoff.tickets import TicketStatus, TicketStore
from bot.kb.query import KnowledgeBase
from bot.ops.review import Review
from bot.settings import Settings
from bot.web.rasa_client import RasaClient
from bot.web.security import csrf_token, current_staff

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class Deps:
    settings: Settings
    tickets: TicketStore
    staff: StaffStore
    rasa: RasaClient
    kb: KnowledgeBase | None
    templates: Jinja2Templates
    ops: Review


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    templates.env.globals.update(
        category_label=category_label,
        status_label=lambda status: TicketStatus(status).label,
        waiting=waiting_minutes,
        channel_label=channel_label,
        channels=CHANNELS,
        categories=[c for c in Category if CATEGORY_INFO[c].hotline] + [Category.HANDOFF],
        statuses=list(TicketStatus),
        taipei=taipei_time,
    )
    return templates


def taipei_time(iso: str | None, with_date: bool = True) -> str:
    """An ISO time (any offset) as staff read it, in Taipei: 「12/01 16:21」 or 「16:21」."""
    if not iso:
        return "—"
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone(TAIPEI)
    return local.strftime("%m/%d %H:%M" if with_date else "%H:%M")


def waiting_minutes(since: str, until: str | None = None) -> int:
    start = dt.datetime.fromisoformat(since)
    end = dt.datetime.fromisoformat(until) if until else dt.datetime.now(dt.timezone.utc)
    return max(0, int((end - start).total_seconds() // 60))


def deps(request: Request) -> Deps:
    return request.app.state.deps


def render(request: Request, name: str, status_code: int = 200, **context: object) -> Response:
    from bot.retrain import live_model

    staff = current_staff(request)
    context.update(
        request=request,
        staff=staff,
        csrf=csrf_token(request),
        live_model=live_model(deps(request).settings.models_dir) if staff else None,
    )
    return deps(request).templates.TemplateResponse(request, name, context, status_code=status_code)


def csv_download(text: str, name: str) -> Response:
    # A BOM so Excel (what the agency uses) opens UTF-8 Chinese correctly.
    return Response(
        "\ufeff" + text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
