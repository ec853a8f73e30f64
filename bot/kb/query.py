"""The one query module over var/kb.db, used by actions, triage and the CLI.

Search by text (words quoted, never FTS syntax), by scheme name or alias, by
category, by eligibility and by date. "Today" comes from a :class:`~bot.clock.Clock`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from pathlib import Path
from typing import Any

from bot.clock import Clock, SystemClock
from bot.kb.records import Benefit, Contact, Scheme, SourceRef
from bot.kb.segment import Segmenter, fts_query

# The hotline given when a record names no line: the agency's 馬上辦 (knowledge/contacts.yml).
DEFAULT_CONTACT = "mashangban_0800_056_476"
TARIFF_CONTACT = "mashangban_0800_280_280"


class KnowledgeBaseMissing(FileNotFoundError):
    """kb.db has not been built (python -m bot kb build)."""


class UnknownScheme(KeyError):
    """No scheme has this id."""


class Status(str, Enum):
    OPEN = "open"
    ENDED = "ended"
    NOT_STARTED = "not_started"


@dataclass(frozen=True, slots=True)
class Profile:
    """What a caller told us about the business; ``None`` means unknown."""

    employees: int | None = None
    registration_type: str | None = None
    industry: str | None = None
    purpose: str | None = None
    disaster_hit: bool | None = None


@dataclass(frozen=True, slots=True)
class Match:
    scheme: Scheme
    reasons: tuple[str, ...] = field(default_factory=tuple)


class KnowledgeBase:
    """Read-only access to kb.db; a connection per call, so a rebuilt file's records are picked up.

    The segmentation terms and the scheme names looked for in questions are read once
    per instance (every search needs them); open a new one to see renamed schemes.
    """

    def __init__(self, path: Path, clock: Clock | None = None) -> None:
        self.path = path
        self.clock = clock or SystemClock()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise KnowledgeBaseMissing(f"{self.path} is missing: run `python -m bot kb build`")
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        connection.row_factory = sqlite3.Row
        try:
            yield connection
        finally:
            connection.close()

    @cached_property
    def _segmenter(self) -> Segmenter:
        with self._db() as db:
            return Segmenter(row["word"] for row in db.execute("select word from terms"))

    # --- lookups -----------------------------------------------------------------
    def scheme(self, scheme_id: str) -> Scheme:
        with self._db() as db:
            row = db.execute("select * from schemes where id = ?", (scheme_id,)).fetchone()
            if row is None:
                raise UnknownScheme(scheme_id)
            return self._scheme(db, row)

    def resolve(self, name: str) -> str | None:
        """The scheme id for a name, an alias or an id."""
        with self._db() as db:
            row = db.execute("select scheme_id from scheme_names where name = ? union "
                             "select id from schemes where id = ?", (name, name)).fetchone()
            return row[0] if row else None

    def contacts(self, scheme: Scheme) -> list[Contact]:
        """The lines to call for ``scheme``, first the one to give; the hotline when it names none."""
        ids = list(scheme.contacts) or [TARIFF_CONTACT if scheme.category == "us_tariff" else DEFAULT_CONTACT]
        with self._db() as db:
            rows = {r["id"]: r for r in db.execute(
                f"select * from contacts where id in ({','.join('?' * len(ids))})", ids)}
        return [_contact(rows[i]) for i in ids if i in rows]

    def contact(self, contact_id: str) -> Contact:
        with self._db() as db:
            row = db.execute("select * from contacts where id = ?", (contact_id,)).fetchone()
        if row is None:
            raise KeyError(contact_id)
        return _contact(row)

    # --- dates -------------------------------------------------------------------
    def status(self, scheme: Scheme) -> Status:
        today = self.clock.today()
        if scheme.ended or (scheme.end and scheme.end < today):
            return Status.ENDED
        if scheme.start and scheme.start > today:
            return Status.NOT_STARTED
        return Status.OPEN

    def alternative(self, scheme: Scheme) -> Scheme | None:
        """The current scheme that replaces an ended one, following chains of replacements."""
        seen = {scheme.id}
        current = scheme
        while current.replaced_by and current.replaced_by not in seen:
            current = self.scheme(current.replaced_by)
            seen.add(current.id)
            if self.status(current) is Status.OPEN:
                return current
        return None

    def ending_within(self, days: int) -> list[Scheme]:
        today = self.clock.today()
        limit = today + dt.timedelta(days=days)
        return [s for s in self.all() if s.end and today <= s.end <= limit]

    # --- listings and search -----------------------------------------------------
    def all(self) -> list[Scheme]:
        with self._db() as db:
            return [self._scheme(db, row) for row in db.execute("select * from schemes order by id")]

    def by_category(self, category: str, include_ended: bool = False) -> list[Scheme]:
        """Schemes of a category, open ones first, the most detailed and recent first."""
        with self._db() as db:
            schemes = [self._scheme(db, r) for r in db.execute("select * from schemes where category = ?", (category,))]
        if not include_ended:
            schemes = [s for s in schemes if self.status(s) is not Status.ENDED]
        return sorted(schemes, key=self._rank)

    def _rank(self, scheme: Scheme) -> tuple[Any, ...]:
        valued = sum(1 for b in scheme.benefits if b.value is not None)
        return (self.status(scheme) is not Status.OPEN, scheme.unofficial, -valued, -scheme.source_date.toordinal(), scheme.id)

    def search(self, text: str, limit: int = 5, include_ended: bool = True) -> list[Scheme]:
        """Schemes named in ``text`` first, then those sharing words with it (bm25), best first."""
        named = [self.scheme(i) for i in self.mentioned(text)]
        words = self._segmenter.query_words(text)
        if not words:
            return named[:limit]
        with self._db() as db:
            rows = db.execute(
                "select schemes.* from scheme_text_fts join scheme_text on scheme_text.rowid = scheme_text_fts.rowid "
                "join schemes on schemes.id = scheme_text.id "
                "where scheme_text_fts match ? order by bm25(scheme_text_fts, 10.0, 8.0, 1.0) limit ?",
                (fts_query(words), limit * 3),
            ).fetchall()
            found = named + [s for s in (self._scheme(db, r) for r in rows) if s.id not in {n.id for n in named}]
        if not include_ended:
            found = [s for s in found if self.status(s) is not Status.ENDED]
        return found[:limit]

    @cached_property
    def _names(self) -> tuple[tuple[str, str], ...]:
        """(normalised name or alias, scheme id), longest names first."""
        from bot.nlu.normaliser import normalise

        with self._db() as db:
            rows = db.execute("select name, scheme_id from scheme_names order by length(name) desc").fetchall()
        return tuple((normalise(row["name"]).lower(), row["scheme_id"]) for row in rows)

    def mentioned(self, text: str) -> list[str]:
        """Ids of schemes whose name or alias appears in ``text`` (longest names first)."""
        from bot.nlu.normaliser import normalise

        plain = normalise(text).lower()
        found: list[str] = []
        for name, scheme_id in self._names:
            if name in plain and scheme_id not in found:
                found.append(scheme_id)
                plain = plain.replace(name, " ")
        return found

    def matching(self, profile: Profile) -> list[Match]:
        """Open schemes a business with ``profile`` may fit, with the reasons; best first."""
        matches = []
        for scheme in self.all():
            if self.status(scheme) is not Status.OPEN:
                continue
            reasons = fit(scheme, profile)
            if reasons is not None:
                matches.append(Match(scheme, tuple(reasons)))
        return sorted(matches, key=lambda m: (-len(m.reasons), self._rank(m.scheme)))

    # --- rows to records ---------------------------------------------------------
    def _scheme(self, db: sqlite3.Connection, row: sqlite3.Row) -> Scheme:
        benefits = tuple(
            Benefit(b["kind"], b["text"], b["value"], b["unit"], b["condition"],
                    SourceRef(**json.loads(b["source"])) if b["source"] else None, bool(b["superseded"]))
            for b in db.execute("select * from benefits where scheme_id = ? order by position", (row["id"],))
        )
        date = lambda v: dt.date.fromisoformat(v) if v else None  # noqa: E731
        return Scheme(
            id=row["id"], name=row["name"], aliases=tuple(json.loads(row["aliases"])), category=row["category"],
            agency=row["agency"], summary=row["summary"], eligibility=json.loads(row["eligibility"]),
            benefits=benefits, contacts=tuple(json.loads(row["contacts"])),
            sources=tuple(SourceRef(**s) for s in json.loads(row["sources"])),
            source_date=dt.date.fromisoformat(row["source_date"]), last_verified=dt.date.fromisoformat(row["last_verified"]),
            start=date(row["start"]), end=date(row["end"]), end_note=row["end_note"], how_to_apply=row["how_to_apply"],
            documents=tuple(json.loads(row["documents"])), unofficial=bool(row["unofficial"]), replaced_by=row["replaced_by"],
            ended=bool(row["ended"]),
        )


def _contact(row: sqlite3.Row) -> Contact:
    return Contact(row["id"], row["name"], row["phone"], SourceRef(**json.loads(row["source"])),
                   dt.date.fromisoformat(row["source_date"]), row["url"], row["hours"], row["note"], bool(row["current"]))


def fit(scheme: Scheme, profile: Profile) -> list[str] | None:
    """Why ``scheme`` fits ``profile`` (reasons in zh-TW), or ``None`` when a stated fact rules it out.

    Unknown answers never rule a scheme out: the caller may not know, and staff can check.
    """
    rules = scheme.eligibility
    reasons: list[str] = []
    max_employees, min_employees = rules.get("max_employees"), rules.get("min_employees")
    if profile.employees is not None:
        if max_employees is not None and profile.employees > max_employees:
            return None
        if min_employees is not None and profile.employees < min_employees:
            return None
        if max_employees is not None:
            reasons.append(f"員工{max_employees}人以下（您{profile.employees}人）")
    types = rules.get("registration_types") or []
    if profile.registration_type and types:
        if profile.registration_type not in types:
            return None
        reasons.append(f"{profile.registration_type}登記可申請")
    industries = rules.get("industries") or []
    if profile.industry and industries:
        if profile.industry not in industries:
            return None
        reasons.append(f"適用{profile.industry}")
    purposes = rules.get("purposes") or []
    if profile.purpose and purposes:
        if profile.purpose not in purposes:
            return None
        reasons.append(f"用途含{profile.purpose}")
    if rules.get("disaster_hit"):
        if profile.disaster_hit is False:
            return None
        if profile.disaster_hit:
            reasons.append("受災企業適用")
    return reasons
