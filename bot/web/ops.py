"""Ops pages (/ops): review conversations, correct intents, export NLU data, hotline metrics.

Same staff login as the console. Reads go through ``bot.ops`` (which folds new
events in first); every table has a CSV download; charts are inline SVG.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot import messages
from bot.categories import CATEGORY_INFO, category_label
from bot.clock import SystemClock
from bot.ops import metrics as ops_metrics
from bot.ops.domain import domain_entities, domain_intents
from bot.ops.events import HandoffReason, category_value
from bot.ops.export import build_export
from bot.ops.failures import parse_kinds
from bot.ops.filters import MAX_PER_PAGE, Filters
from bot.ops.review import BadCorrection, UnknownConversation, UnknownTurn, local_time
from bot.settings import ROOT
from bot.web.charts import bar_chart
from bot.web.deps import csv_download, deps, render
from bot.web.security import check_csrf, current_account, current_staff, staff_only

logger = logging.getLogger(__name__)
CSV_LIMIT = 10_000


def _filters(request: Request, **extra: str) -> Filters:
    return Filters.parse({**dict(request.query_params), **extra})


def presets(today: dt.date) -> list[tuple[str, dt.date, dt.date]]:
    """Named periods for one-click answers to 「上週大家問了什麼」."""
    monday = today - dt.timedelta(days=today.weekday())
    return [
        ("今天", today, today),
        ("近7天", today - dt.timedelta(days=6), today),
        ("上週", monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        ("本月", today.replace(day=1), today),
    ]


def _today(request: Request) -> dt.date:
    """Today in Taipei by the real calendar: events carry real times, whatever BOT_TODAY says about schemes."""
    return SystemClock().today()


@staff_only
async def conversation_list(request: Request) -> Response:
    d, f = deps(request), _filters(request)
    page = d.ops.search(f)
    return render(
        request,
        "ops/list.html",
        page=page,
        f=f,
        q=f.query(),
        tags=d.ops.all_tags(),
        intents=domain_intents_labelled(),
        presets=presets(_today(request)),
        urlencode=urlencode,
        reasons=HandoffReason.LABELS,
        local_time=local_time,
        failure_kinds=parse_kinds,
    )


@staff_only
async def conversation_csv(request: Request) -> Response:
    f, ops = _filters(request, page="1", per_page=str(MAX_PER_PAGE)), deps(request).ops
    ops.refresh()  # fold new events in once, not again for every page of 200
    rows: list[Any] = []
    while len(rows) < CSV_LIMIT:
        page = ops.page(f)
        rows += page.rows
        if f.page >= page.pages:
            break
        f = replace(f, page=f.page + 1)
    table = ops_metrics.Table(
        "conversations",
        "對話列表",
        [
            "對話",
            "管道",
            "開始時間",
            "類別",
            "第一句",
            "提問數",
            "最低信心",
            "聽不懂次數",
            "失敗回合數",
            "失敗種類",
            "轉真人",
            "轉真人原因",
            "評分",
            "標籤",
            "已檢視",
            "測試流量",
        ],
        [
            [
                r.sender_id,
                r.channel,
                local_time(r.started_at),
                r.category,
                r.first_text,
                r.questions,
                "" if r.min_confidence is None else round(r.min_confidence, 3),
                r.fallbacks,
                r.failures,
                r.failure_kinds,
                int(r.handed_off),
                r.handoff_reason or "",
                r.rating or "",
                " ".join(r.tags),
                int(r.reviewed),
                r.synthetic or "",
            ]
            for r in rows
        ],
    )
    return csv_download(table.csv(), "conversations.csv")


def _sender(value: str | None) -> str:
    sender = (value or "").strip()
    if not sender or len(sender) > 255:
        raise UnknownConversation(sender)
    return sender


@staff_only
async def conversation_page(request: Request) -> Response:
    d, sender = deps(request), _sender(request.query_params.get("id"))
    view = d.ops.conversation(sender)
    ticket = d.tickets.latest_for(sender)
    return render(
        request,
        "ops/conversation.html",
        view=view,
        intents=domain_intents_labelled(),
        entity_names=domain_entities(),
        reasons=HandoffReason.LABELS,
        flash=request.query_params.get("flash"),
        back=request.query_params.get("back") or "",
        local_time=local_time,
        ticket=ticket,
        known_values=known_entity_values(d.kb),
        failure_kinds=parse_kinds,
    )


def known_entity_values(kb: Any) -> dict[str, list[tuple[str, str]]]:
    """(canonical value, label) per entity with a closed list: schemes, attributes, counties, disasters, industries.

    The correction form offers these instead of asking staff for internal ids.
    """
    from bot.kb.answers import ATTRIBUTE_LABELS
    from bot.nlu.gazetteer import GAZETTEERS

    known = {
        name: [(value, ATTRIBUTE_LABELS.get(value, value) if name == "attribute" else value) for value in values]
        for name, values in GAZETTEERS.items()
    }
    if kb is not None:
        known["scheme"] = [(s.id, s.name) for c in CATEGORY_INFO for s in kb.by_category(c.value, include_ended=True)]
    return known


def _to_conversation(sender: str, flash: str, back: str = "", anchor: str = "") -> RedirectResponse:
    """Back to the conversation page, at ``anchor`` (the turn just changed) so staff keep their place."""
    query = {"id": sender, "flash": flash, **({"back": back} if back.startswith("/ops") else {})}
    return RedirectResponse("/ops/conversation?" + urlencode(query) + (f"#{anchor}" if anchor else ""), status_code=303)


@staff_only
async def mark_reviewed(request: Request) -> Response:
    form = await check_csrf(request)
    sender = _sender(form.get("id"))
    deps(request).ops.set_reviewed(sender, current_staff(request) or "", form.get("reviewed", "1") == "1")
    return _to_conversation(
        sender, "reviewed" if form.get("reviewed", "1") == "1" else "unreviewed", form.get("back", "")
    )


@staff_only
async def tag(request: Request) -> Response:
    form = await check_csrf(request)
    sender, ops = _sender(form.get("id")), deps(request).ops
    if form.get("remove"):
        ops.remove_tag(sender, form["remove"])
    else:
        ops.add_tag(sender, form.get("tag", ""), current_staff(request) or "")
    return _to_conversation(sender, "tagged", form.get("back", ""))


def _event_id(value: str | None) -> int:
    if not value or not value.isdigit() or len(value) > 12:
        raise UnknownTurn(value)
    return int(value)


@staff_only
async def correct(request: Request) -> Response:
    form = await check_csrf(request)
    multi = await request.form()  # cached by Starlette; getlist for the kept entities
    ops, event_id = deps(request).ops, _event_id(form.get("event_id"))
    sender = ops.sender_of_turn(event_id)
    if form.get("remove"):
        ops.remove_correction(event_id)
        return _to_conversation(sender, "uncorrected", form.get("back", ""), f"turn-{event_id}")
    entities = [
        {
            "entity": multi.get(f"entity_{i}"),
            "text": multi.get(f"text_{i}"),
            "value": multi.get(f"value_{i}"),
            "start": int(str(multi.get(f"start_{i}"))) if str(multi.get(f"start_{i}") or "").isdigit() else None,
        }
        for i in multi.getlist("keep")
        if str(i).isdigit()
    ]
    if form.get("new_entity") and form.get("new_text", "").strip():
        entities.append(
            {
                "entity": form["new_entity"],
                "text": form["new_text"].strip(),
                "value": _known_value(deps(request).kb, form["new_entity"], form.get("new_value", "")),
            }
        )
    ops.correct(event_id, form.get("intent", ""), entities, current_staff(request) or "")
    return _to_conversation(sender, "corrected", form.get("back", ""), f"turn-{event_id}")


def _known_value(kb: Any, entity: str, value: str) -> str | None:
    """The picked canonical value, checked against the entity's list (free text only for open entities)."""
    value = value.strip()
    if any(c in value for c in "{}[]"):  # Rasa's entity markup: a `}` broke the export for everyone (review L5)
        raise BadCorrection(messages.CORRECTION_BRACKETS)
    if ":" in value:  # the picker sends "entity:value" so one list can serve every type
        picked_entity, value = value.split(":", 1)
        if picked_entity != entity:
            raise BadCorrection(messages.CORRECTION_VALUE_MISMATCH)
    known = known_entity_values(kb).get(entity)
    if value and known is not None and value not in {v for v, _ in known}:
        raise BadCorrection(messages.correction_unknown_value(value, entity))
    return value or None


@staff_only
async def corrections_page(request: Request) -> Response:
    ops = deps(request).ops
    items = ops.corrections()
    export = _export(items, _today(request))
    return render(
        request,
        "ops/corrections.html",
        items=items,
        export=export,
        local_time=local_time,
        was=ops.original_intents([c.event_id for c in items]),
    )


@staff_only
async def corrections_yaml(request: Request) -> Response:
    export = _export(deps(request).ops.corrections(), _today(request))
    return Response(
        export.yaml,
        media_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": "attachment; filename=ops_corrections.yml"},
    )


def _export(items: Any, today: dt.date) -> Any:
    """The corrections as NLU YAML; a correction Rasa cannot read is a 409 with a reason, not a 500 for everyone."""
    try:
        return build_export(items, today=today)
    except Exception as exc:  # noqa: BLE001 - InvalidExport or Rasa's own format errors
        logger.warning("corrections export failed: %s", type(exc).__name__)
        raise HTTPException(409, messages.EXPORT_FAILED) from exc


def _period(request: Request) -> tuple[dt.date | None, dt.date | None]:
    f = _filters(request)
    if f.date_from is None and f.date_to is None and "from" not in request.query_params:
        today = _today(request)
        return today - dt.timedelta(days=6), today  # default: the last 7 days
    return f.date_from, f.date_to


def _report(request: Request) -> ops_metrics.Report:
    d, f = deps(request), _filters(request)
    date_from, date_to = _period(request)
    return ops_metrics.report(
        d.ops.engine, date_from, date_to, d.tickets, d.kb, channel=f.channel, synthetic=f.synthetic
    )


@staff_only
async def metrics_page(request: Request) -> Response:
    report = _report(request)
    categories = report.tables["categories"].rows[:-1]
    hours = report.tables["hours"].rows
    charts = {
        "categories": bar_chart(
            [r[0] for r in categories], [r[1] for r in categories], "各類別對話數", horizontal=True
        ),
        "hours": bar_chart([r[0][:2] for r in hours], [r[1] for r in hours], "各時段提問數"),
    }
    f = _filters(request)
    period = {
        "from": report.date_from.isoformat() if report.date_from else "",
        "to": report.date_to.isoformat() if report.date_to else "",
        "channel": f.channel or "",
        "synthetic": "yes" if f.synthetic is None else "",
    }
    return render(
        request,
        "ops/metrics.html",
        report=report,
        charts=charts,
        period=period,
        urlencode=urlencode,
        presets=presets(_today(request)),
        category_values=category_values(),
    )


@staff_only
async def metrics_csv(request: Request) -> Response:
    report = _report(request)
    key = request.path_params["table"]
    tables = {t.key: t for t in report.all_tables()}
    if key not in tables:
        raise HTTPException(404, messages.NO_TABLE)
    return csv_download(tables[key].csv(), f"{key}.csv")


def domain_intents_labelled() -> list[tuple[str, str]]:
    """(intent, category label) for the intent pickers, in domain order."""
    return [(i, category_label(category_value(i))) for i in domain_intents()]


def category_values() -> dict[str, str]:
    """Category table label → category value, for links from the metrics table to the list."""
    return {info.label: c.value for c, info in CATEGORY_INFO.items()}


# --- retraining (/ops/retrain) ------------------------------------------------------------


def _may_retrain(request: Request) -> bool:
    """Only supervisors replace the live model (bot/handoff/staff.py roles); agents see the page and its history."""
    account = current_account(request)
    return bool(account and account.supervisor)


def _retrain_folder(request: Request) -> Any:
    return deps(request).settings.var_dir / "retrain"


def _running(folder: Any) -> bool:
    import os

    pid_file = folder / "run.pid"
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


@staff_only
async def retrain_page(request: Request) -> Response:
    """Which model is live, what the corrections would add, earlier runs and their verdicts."""
    from bot import retrain
    from bot.ops.export import TRAINING

    d = deps(request)
    export = build_export(d.ops.corrections(), today=_today(request))
    folder = _retrain_folder(request)
    log = folder / "run.log"
    return render(
        request,
        "ops/retrain.html",
        live=retrain.live_model(d.settings.models_dir),
        added=retrain.corrections_diff(export.yaml, TRAINING),
        skipped=export.skipped,
        runs=retrain.reports(retrain.Paths.of_repo(ROOT, d.settings.models_dir, d.settings.var_dir).reports),
        running=_running(folder),
        log=log.read_text(encoding="utf-8")[-3000:] if log.exists() else "",
        allowed=_may_retrain(request),
        rule=retrain.RULE,
        flash=request.query_params.get("flash"),
    )


@staff_only
async def retrain_start(request: Request) -> Response:
    """Start ``python -m bot retrain`` in the background (one run at a time); the page shows its log."""
    import subprocess
    import sys

    await check_csrf(request)
    if not _may_retrain(request):
        raise HTTPException(403, messages.RETRAIN_SUPERVISORS_ONLY)
    folder = _retrain_folder(request)
    folder.mkdir(parents=True, exist_ok=True)
    if _running(folder):
        raise HTTPException(409, messages.RETRAIN_RUNNING)
    with (folder / "run.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", "retrain"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (folder / "run.pid").write_text(str(process.pid))
    logger.info("retrain started by %s (pid %s)", current_staff(request), process.pid)
    return RedirectResponse("/ops/retrain?flash=started", status_code=303)


@staff_only
async def retrain_report(request: Request) -> Response:
    """One run's report (Markdown, shown as text)."""
    import re

    from bot import retrain

    name = request.path_params["name"]
    d = deps(request)
    path = retrain.Paths.of_repo(ROOT, d.settings.models_dir, d.settings.var_dir).reports / name
    if not re.fullmatch(r"retrain-\d{4}-\d{2}-\d{2}(-\d+)?\.md", name) or not path.exists():  # the name first
        raise HTTPException(404, messages.NO_REPORT)
    return Response(path.read_text(encoding="utf-8"), media_type="text/plain; charset=utf-8")
