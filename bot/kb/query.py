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
from bot.eligibility import Profile, eligibility_reasons
from bot.kb.build import SCHEME_TEXT_COLUMNS
from bot.kb.records import Benefit, Contact, Period, Scheme, SourceRef
from bot.kb.segment import Segmenter, fts_query
from bot.messages import SCHEME_STATUS_LABELS

# The hotline given when a record names no line, and for ended schemes (whose programme lines
# belonged to a closed programme): 經濟部「馬上辦服務中心」 0800-280-280, per the newest source
# (seed 000, 114/12/23; knowledge/contacts.yml says why).
DEFAULT_CONTACT = "mashangban_0800_280_280"
BM25_WEIGHTS = ", ".join(str(w) for w in SCHEME_TEXT_COLUMNS.values())


class KnowledgeBaseMissing(FileNotFoundError):
    """kb.db has not been built (python -m bot kb build)."""


class UnknownScheme(KeyError):
    """No scheme has this id."""


class Status(str, Enum):
    OPEN = "open"
    ENDED = "ended"
    NOT_STARTED = "not_started"
    UNKNOWN = "unknown"  # no source says whether it still takes applications: never listed or recommended as open

    @property
    def label(self) -> str:
        """What callers read on a scheme card and in answers: 「尚未開始受理」."""
        return SCHEME_STATUS_LABELS[self.value].caller

    @property
    def staff_label(self) -> str:
        """The shorter word of the staff pages and reports: 「尚未開始」."""
        return SCHEME_STATUS_LABELS[self.value].staff


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
        self._memo: dict[Any, Any] = {}
        self._memo_file: tuple[int, int, int] | None = None

    def _file(self) -> tuple[int, int, int]:
        """Which kb.db is on disk (inode, modification time, size): a rebuild changes it."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise KnowledgeBaseMissing(f"{self.path} is missing: run `python -m bot kb build`") from None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    def _remembered(self, key: Any, compute: Any) -> Any:
        """``compute()``, kept while the same kb.db is on disk (the records are immutable values).

        The action server looks up the same schemes and lines on every turn: a connection and a
        query each were a tenth of its CPU under load (py-spy, bench.load). A rebuilt file is
        still picked up on the next call, as with a connection per call."""
        file = self._file()
        if file != self._memo_file:
            self._memo, self._memo_file = {}, file
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = compute()
            return value

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
        return self._remembered(("scheme", scheme_id), lambda: self._read_scheme(scheme_id))

    def _read_scheme(self, scheme_id: str) -> Scheme:
        with self._db() as db:
            row = db.execute("select * from schemes where id = ?", (scheme_id,)).fetchone()
            if row is None:
                raise UnknownScheme(scheme_id)
            return self._scheme(db, row)

    def resolve(self, name: str) -> str | None:
        """The scheme id for a name, an alias or an id."""
        with self._db() as db:
            row = db.execute(
                "select scheme_id from scheme_names where name = ? union select id from schemes where id = ?",
                (name, name),
            ).fetchone()
            return row[0] if row else None

    def contacts(self, scheme: Scheme) -> list[Contact]:
        """The lines to call for ``scheme``, first the one to give.

        Only lines marked current are given; the general hotline when none is left. For an
        ended scheme the hotline comes first (what is open instead is its question), then the
        programme's own lines still in service, for an application already sent.
        """
        ids, ended = tuple(scheme.contacts), self.status(scheme) is Status.ENDED
        return list(self._remembered(("contacts", ids, ended), lambda: tuple(self._read_contacts(ids, ended))))

    def _read_contacts(self, ids: tuple[str, ...], ended: bool) -> list[Contact]:
        with self._db() as db:
            wanted = [*ids, DEFAULT_CONTACT]
            rows = {
                r["id"]: r
                for r in db.execute(f"select * from contacts where id in ({','.join('?' * len(wanted))})", wanted)
            }
        given = [_contact(rows[i]) for i in ids if i in rows and rows[i]["current"]]
        hotline = [_contact(rows[DEFAULT_CONTACT])] if DEFAULT_CONTACT in rows else []
        if ended:
            return hotline + [c for c in given if c.id != DEFAULT_CONTACT]
        return given or hotline

    def contact(self, contact_id: str) -> Contact:
        with self._db() as db:
            row = db.execute("select * from contacts where id = ?", (contact_id,)).fetchone()
        if row is None:
            raise KeyError(contact_id)
        return _contact(row)

    # --- dates -------------------------------------------------------------------
    def status(self, scheme: Scheme) -> Status:
        """The status its record states (``status_basis``), on the clock's today; never a default."""
        return status_on(scheme, self.clock.today())

    def alternative(self, scheme: Scheme) -> Scheme | None:
        """The open scheme to point to for an ended one: its successor (following chains of
        replacements a source names), else the alternative its record gives."""
        seen = {scheme.id}
        current = scheme
        while current.replaced_by and current.replaced_by not in seen:
            current = self.scheme(current.replaced_by)
            seen.add(current.id)
            if self.status(current) is Status.OPEN:
                return current
        if scheme.alternative and scheme.alternative not in seen:
            other = self.scheme(scheme.alternative)
            if self.status(other) is Status.OPEN:
                return other
        return None

    def closing_day(self, scheme: Scheme) -> dt.date | None:
        """The next day (today or later) on which the scheme, its period or one of its benefits stops."""
        today = self.clock.today()
        return min((day for day in _ends(scheme) if day >= today), default=None)

    def ending_within(self, days: int) -> list[Scheme]:
        """Schemes whose end, period end or a benefit's own end falls within ``days`` from today."""
        limit = self.clock.today() + dt.timedelta(days=days)
        return [s for s in self.all() if (day := self.closing_day(s)) is not None and day <= limit]

    # --- listings and search -----------------------------------------------------
    def all(self) -> list[Scheme]:
        with self._db() as db:
            return [self._scheme(db, row) for row in db.execute("select * from schemes order by id")]

    def by_category(self, category: str, include_ended: bool = False, include_unknown: bool = False) -> list[Scheme]:
        """Schemes of a category that take applications (or are about to), the most detailed and recent first.

        Ended and unknown-status schemes only when asked for (staff views); they are never
        listed to callers as open.
        """
        with self._db() as db:
            schemes = [self._scheme(db, r) for r in db.execute("select * from schemes where category = ?", (category,))]
        hidden = {Status.ENDED} if not include_ended else set()
        if not include_unknown:
            hidden.add(Status.UNKNOWN)
        schemes = [s for s in schemes if self.status(s) not in hidden]
        return sorted(schemes, key=self._rank)

    def _rank(self, scheme: Scheme) -> tuple[Any, ...]:
        today = self.clock.today()
        valued = sum(1 for b in scheme.benefits if b.value is not None and b.current_on(today))
        return (
            _STATUS_ORDER[self.status(scheme)],
            scheme.unofficial,
            -valued,
            -scheme.source_date.toordinal(),
            scheme.id,
        )

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
                f"where scheme_text_fts match ? order by bm25(scheme_text_fts, {BM25_WEIGHTS}) limit ?",
                (fts_query(words), limit * 3),
            ).fetchall()
            found = named + [s for s in (self._scheme(db, r) for r in rows) if s.id not in {n.id for n in named}]
        if not include_ended:
            found = [s for s in found if self.status(s) is not Status.ENDED]
        return found[:limit]

    def counts_by_status(self) -> dict[str, dict[str, list[str]]]:
        """category → status value → scheme ids (for reviews and the closing table)."""
        table: dict[str, dict[str, list[str]]] = {}
        for scheme in self.all():
            table.setdefault(scheme.category, {}).setdefault(self.status(scheme).value, []).append(scheme.id)
        return table

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
            reasons = eligibility_reasons(scheme.eligibility, profile)
            if reasons is not None:
                matches.append(Match(scheme, tuple(reasons)))
        return sorted(matches, key=lambda m: (-len(m.reasons), self._rank(m.scheme)))

    # --- rows to records ---------------------------------------------------------
    def _scheme(self, db: sqlite3.Connection, row: sqlite3.Row) -> Scheme:
        date = lambda v: dt.date.fromisoformat(v) if v else None  # noqa: E731
        benefits = tuple(
            Benefit(
                b["kind"],
                b["text"],
                b["value"],
                b["unit"],
                b["condition"],
                SourceRef(**json.loads(b["source"])) if b["source"] else None,
                bool(b["superseded"]),
                date(b["end"]),
                b["note"],
            )
            for b in db.execute("select * from benefits where scheme_id = ? order by position", (row["id"],))
        )
        # bot.kb.build writes a period's label and end together
        period = Period(row["period_label"], dt.date.fromisoformat(row["period_end"])) if row["period_label"] else None
        return Scheme(
            id=row["id"],
            name=row["name"],
            aliases=tuple(json.loads(row["aliases"])),
            category=row["category"],
            agency=row["agency"],
            summary=row["summary"],
            eligibility=json.loads(row["eligibility"]),
            benefits=benefits,
            contacts=tuple(json.loads(row["contacts"])),
            sources=tuple(SourceRef(**s) for s in json.loads(row["sources"])),
            source_date=dt.date.fromisoformat(row["source_date"]),
            last_verified=dt.date.fromisoformat(row["last_verified"]),
            start=date(row["start"]),
            end=date(row["end"]),
            end_note=row["end_note"],
            how_to_apply=row["how_to_apply"],
            documents=tuple(json.loads(row["documents"])),
            unofficial=bool(row["unofficial"]),
            replaced_by=row["replaced_by"],
            alternative=row["alternative"],
            status_basis=row["status_basis"],
            period=period,
            standing_quote=row["standing_quote"],
            source_date_precision=row["source_date_precision"],
            source_date_approx=bool(row["source_date_approx"]),
            note=row["note"],
        )


_STATUS_ORDER = {Status.OPEN: 0, Status.NOT_STARTED: 1, Status.UNKNOWN: 2, Status.ENDED: 3}


def status_on(scheme: Scheme, today: dt.date) -> Status:
    """A scheme's status on ``today``, from how its record says the status is known.

    ``end``: open to the end date (inclusive). ``period``: open to the end of the programme
    period, ended after it unless a newer source renews it (then the record is updated).
    ``standing``: a rule the source calls standing. ``ended``: a source says it ended.
    ``unknown``: no source says; the bot gives the data date and the line to ask.
    """
    basis = scheme.status_basis
    last = scheme.end if basis == "end" else scheme.period.end if basis == "period" and scheme.period else None
    if basis == "ended" or (last and last < today):
        return Status.ENDED
    if basis == "unknown":
        return Status.UNKNOWN
    if scheme.start and scheme.start > today:
        return Status.NOT_STARTED
    return Status.OPEN


def _ends(scheme: Scheme) -> list[dt.date]:
    """Every date on which something of ``scheme`` stops: its end, its period's end, its benefits' ends."""
    days = [scheme.end] if scheme.end else []
    if scheme.period:
        days.append(scheme.period.end)
    return days + [b.end for b in scheme.benefits if b.end and not b.superseded]


def _contact(row: sqlite3.Row) -> Contact:
    return Contact(
        row["id"],
        row["name"],
        row["phone"],
        SourceRef(**json.loads(row["source"])),
        dt.date.fromisoformat(row["source_date"]),
        row["url"],
        row["hours"],
        row["note"],
        bool(row["current"]),
        tuple(json.loads(row["aliases"] or "[]")) if "aliases" in row.keys() else (),
    )
