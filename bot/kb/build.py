"""Build var/kb.db from the knowledge records with sqlite-utils.

Tables: ``schemes``, ``benefits``, ``contacts``, ``scheme_names`` (name/alias → id),
``terms`` (words for the segmenter) and ``scheme_text`` with an FTS5 index over
jieba-segmented names, aliases and summaries. Built in a temporary file in the same
folder and renamed over the old one, so readers never see a half-built database.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import sqlite_utils

from bot.kb.records import Knowledge, Scheme
from bot.kb.segment import Segmenter


def _dates(scheme: Scheme) -> dict[str, str | None]:
    return {
        "start": scheme.start.isoformat() if scheme.start else None,
        "end": scheme.end.isoformat() if scheme.end else None,
        "source_date": scheme.source_date.isoformat(),
        "last_verified": scheme.last_verified.isoformat(),
    }


def scheme_row(scheme: Scheme) -> dict[str, object]:
    return {
        "id": scheme.id,
        "name": scheme.name,
        "category": scheme.category,
        "agency": scheme.agency,
        "summary": scheme.summary,
        "aliases": json.dumps(scheme.aliases, ensure_ascii=False),
        "eligibility": json.dumps(scheme.eligibility, ensure_ascii=False, default=str),
        "contacts": json.dumps(scheme.contacts),
        "documents": json.dumps(scheme.documents, ensure_ascii=False),
        "sources": json.dumps([{"doc": s.doc, "section": s.section} for s in scheme.sources], ensure_ascii=False),
        "end_note": scheme.end_note,
        "how_to_apply": scheme.how_to_apply,
        "unofficial": int(scheme.unofficial),
        "replaced_by": scheme.replaced_by,
        "alternative": scheme.alternative,
        "status_basis": scheme.status_basis,
        "period_label": scheme.period.label if scheme.period else None,
        "period_end": scheme.period.end.isoformat() if scheme.period else None,
        "standing_quote": scheme.standing_quote,
        "source_date_precision": scheme.source_date_precision,
        "source_date_approx": int(scheme.source_date_approx),
        "note": scheme.note,
        **_dates(scheme),
    }


def build_kb(knowledge: Knowledge, path: Path) -> Path:
    """Write the database for ``knowledge`` to ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".kb-", suffix=".db", dir=path.parent)
    os.close(handle)
    try:
        _fill(sqlite_utils.Database(temp), knowledge)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path


def _fill(db: sqlite_utils.Database, knowledge: Knowledge) -> None:
    schemes = list(knowledge.schemes.values())
    db.table("schemes").insert_all((scheme_row(s) for s in schemes), pk="id")
    db.table("benefits").insert_all(
        (
            {
                "scheme_id": s.id,
                "position": i,
                "kind": b.kind,
                "value": b.value,
                "unit": b.unit,
                "text": b.text,
                "condition": b.condition,
                "superseded": int(b.superseded),
                "end": b.end.isoformat() if b.end else None,
                "note": b.note,
                "source": json.dumps({"doc": b.source.doc, "section": b.source.section}, ensure_ascii=False)
                if b.source
                else None,
            }
            for s in schemes
            for i, b in enumerate(s.benefits)
        ),
        foreign_keys=[("scheme_id", "schemes", "id")],
    )
    db.table("benefits").create_index(["scheme_id"])
    db.table("contacts").insert_all(
        (
            {
                "id": c.id,
                "name": c.name,
                "aliases": json.dumps(c.aliases, ensure_ascii=False),
                "phone": c.phone,
                "url": c.url,
                "hours": c.hours,
                "note": c.note,
                "current": int(c.current),
                "source": json.dumps({"doc": c.source.doc, "section": c.source.section}, ensure_ascii=False),
                "source_date": c.source_date.isoformat(),
            }
            for c in knowledge.contacts.values()
        ),
        pk="id",
    )
    names = [{"name": n, "scheme_id": s.id} for s in schemes for n in s.names()]
    db.table("scheme_names").insert_all(names, pk="name")
    db.table("terms").insert_all(({"word": n["name"]} for n in names), pk="word")
    segmenter = Segmenter(n["name"] for n in names)
    db.table("scheme_text").insert_all(
        (
            {
                "id": s.id,
                "name": segmenter.index_text(s.name),
                "aliases": segmenter.index_text(" ".join(s.aliases)),
                "summary": segmenter.index_text(s.summary),
                "benefits": segmenter.index_text(" ".join(b.text for b in s.benefits if not b.superseded)),
                "eligibility": segmenter.index_text(eligibility_text(s)),
            }
            for s in schemes
        ),
        pk="id",
    )
    db.table("scheme_text").enable_fts(list(SCHEME_TEXT_COLUMNS), fts_version="FTS5", create_triggers=False)
    db.table("contact_text").insert_all(
        (
            {"id": c.id, "name": segmenter.index_text(" ".join((c.name, *c.aliases)))}
            for c in knowledge.contacts.values()
        ),
        pk="id",
    )
    db.table("contact_text").enable_fts(["name"], fts_version="FTS5", create_triggers=False)


# The FTS5 columns of scheme_text, in order, with their bm25 weights (bot.kb.query, bot.kb.resolve):
# a word of the name or an alias says far more about which scheme is meant than one of its texts.
SCHEME_TEXT_COLUMNS = {"name": 10.0, "aliases": 8.0, "summary": 1.5, "benefits": 1.0, "eligibility": 0.5}


def eligibility_text(scheme: Scheme) -> str:
    """The eligibility rules as words (industries, purposes, the original wording) for the index."""
    rules = scheme.eligibility
    words = [*(rules.get("industries") or []), *(rules.get("purposes") or []), *(rules.get("other") or [])]
    return " ".join(str(w) for w in words)
