"""Knowledge records: typed, validated, loaded from ``knowledge/``.

The YAML files are the source of truth (knowledge/README.md lists the fields).
Loading collects every problem instead of stopping at the first, so a maintainer
fixes a batch of records in one pass; each problem names file, record and field.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.categories import HOTLINE_VALUES

BENEFIT_KINDS = (
    "max_amount",
    "interest_rate",
    "interest_subsidy",
    "guarantee_ratio",
    "guarantee_fee",
    "loan_term",
    "grace_period",
    "subsidy_amount",
    "subsidy_per_person",
    "subsidy_per_company",
    "subsidy_ratio",
    "tax_deduction_rate",
    "points",
    "statistics",
    "other",
)
SUMMARY_MAX = 120
SCHEME_FIELDS = frozenset(
    {
        "id",
        "name",
        "aliases",
        "category",
        "agency",
        "summary",
        "eligibility",
        "benefits",
        "start",
        "end",
        "end_note",
        "how_to_apply",
        "documents",
        "contacts",
        "source",
        "source_date",
        "source_date_approx",
        "last_verified",
        "unofficial",
        "replaced_by",
        "alternative",
        "status_basis",
        "period",
        "standing_quote",
        "note",
    }
)
BENEFIT_FIELDS = frozenset({"kind", "value", "unit", "text", "condition", "source", "superseded", "end", "note"})
CONTACT_FIELDS = frozenset(
    {"id", "name", "aliases", "phone", "url", "hours", "source", "source_date", "note", "current"}
)
# How a record's status is known (knowledge/README.md): a dated end, a programme period that
# counts as ended once it is over, a rule the source calls standing, a source saying it ended
# without a date, or nothing (then the bot says it does not know).
STATUS_BASES = ("end", "period", "standing", "ended", "unknown")
# source_date as precise as the source is: 2025-12-23, 2025-03 (「114年3月」) or 2023 (「112年」).
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")
# As sources write them: 0800-nnn-nnn, (0n)nnnn-nnnn#nnn、nnn, 0n-nnnn-nnnn # nnn, 0800-nnnnnn.
_PHONE_SHAPE = re.compile(r"^\(?0\d{1,3}\)?[- ]?\d{2,4}[- ]?\d{3,4}(?: ?# ?\d{1,5}(?:[、,]\d{1,5})*)?$")


def phone_is_valid(phone: str) -> bool:
    """A Taiwan landline, mobile or 0800 number: 9-10 digits before any extension."""
    if not _PHONE_SHAPE.match(phone):
        return False
    digits = re.sub(r"\D", "", phone.split("#")[0])
    return 9 <= len(digits) <= 10


ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation problem, located precisely enough to fix."""

    file: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.record}: {self.field}: {self.message}"


class InvalidKnowledge(Exception):
    """The knowledge folder has problems; ``problems`` lists them all."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class SourceRef:
    doc: str
    section: str

    def label(self) -> str:
        return f"{self.doc} {self.section}".strip()


@dataclass(frozen=True, slots=True)
class Benefit:
    kind: str
    text: str
    value: float | int | None = None
    unit: str | None = None
    condition: str | None = None
    source: SourceRef | None = None
    superseded: bool = False  # an old value kept for history; never stated as current
    end: dt.date | None = None  # a benefit with its own deadline (a bonus until 115/6/30) is not current after it
    note: str | None = None  # for maintainers; never shown to callers

    def current_on(self, today: dt.date | None) -> bool:
        """Stated as current on ``today``: not superseded and its own deadline (if any) not passed."""
        return not self.superseded and not (self.end and today and self.end < today)


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    name: str
    phone: str
    source: SourceRef
    source_date: dt.date
    url: str | None = None
    hours: str | None = None
    note: str | None = None
    current: bool = False  # may be given to callers as the line to call (see contacts.yml)
    aliases: tuple[str, ...] = ()  # short forms callers name the organisation by (信保基金, 貿協)


@dataclass(frozen=True, slots=True)
class Period:
    """A programme period (「114年度」, 「計畫期程114–117年」): the scheme counts as ended after ``end``."""

    label: str
    end: dt.date


@dataclass(frozen=True, slots=True)
class Scheme:
    id: str
    name: str
    aliases: tuple[str, ...]
    category: str
    agency: str
    summary: str
    eligibility: dict[str, Any]
    benefits: tuple[Benefit, ...]
    contacts: tuple[str, ...]
    sources: tuple[SourceRef, ...]
    source_date: dt.date
    last_verified: dt.date
    start: dt.date | None = None
    end: dt.date | None = None
    end_note: str | None = None
    how_to_apply: str | None = None
    documents: tuple[str, ...] = ()
    unofficial: bool = False
    replaced_by: str | None = None  # the successor a source names
    alternative: str | None = None  # a current scheme to point callers to when no source names a successor
    status_basis: str = "unknown"  # one of STATUS_BASES
    period: Period | None = None
    standing_quote: str | None = None  # the source's words that make it a standing rule
    source_date_precision: str = "day"  # day, month or year: how precisely the source dates itself
    source_date_approx: bool = False  # the source is undated; source_date is inferred (never shown as a date)
    note: str | None = None  # for maintainers; never shown to callers
    file: str = ""

    @property
    def ended(self) -> bool:
        """A source says the measure has ended but gives no date."""
        return self.status_basis == "ended"

    def names(self) -> tuple[str, ...]:
        """The name and aliases: every way a caller may name this scheme."""
        return (self.name, *self.aliases)


@dataclass(slots=True)
class Knowledge:
    """All records, by id."""

    schemes: dict[str, Scheme] = field(default_factory=dict)
    contacts: dict[str, Contact] = field(default_factory=dict)


class _Reader:
    """Reads one mapping, recording problems instead of raising."""

    def __init__(self, data: dict[str, Any], file: str, record: str, problems: list[Problem]):
        self.data, self.file, self.record, self.problems = data, file, record, problems

    def problem(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.file, self.record, name, message))

    def text(self, name: str, required: bool = True) -> str | None:
        value = self.data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(name, "missing")
            return None
        if not isinstance(value, str):
            self.problem(name, f"must be text, got {type(value).__name__}")
            return None
        return value.strip()

    def date(self, name: str, required: bool = True) -> dt.date | None:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(name, "missing")
            return None
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.problem(name, f"not an ISO date (YYYY-MM-DD): {value!r}")
            return None

    def partial_date(self, name: str) -> tuple[dt.date | None, str]:
        """A date as precise as the source: (first day, "day" | "month" | "year")."""
        value = self.data.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            match = _PARTIAL_DATE.match(value.strip())
            if match:
                year, month = int(match[1]), int(match[2] or 1)
                if 1 <= month <= 12:
                    return dt.date(year, month, 1), "month" if match[2] else "year"
        return self.date(name), "day"

    def texts(self, name: str, required: bool = True) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            if required:
                self.problem(name, "missing")
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(name, "must be a list of text")
            return ()
        return tuple(v.strip() for v in value)

    def source(self, value: Any, name: str) -> SourceRef | None:
        if not isinstance(value, dict) or not isinstance(value.get("doc"), str) or not value["doc"].strip():
            self.problem(name, "missing source: needs {doc, section}")
            return None
        return SourceRef(value["doc"].strip(), str(value.get("section") or "").strip())


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_knowledge(folder: Path) -> Knowledge:
    """Load and validate ``folder`` (contacts.yml and schemes/*.yml).

    Raises:
        InvalidKnowledge: listing every problem found.
    """
    problems: list[Problem] = []
    knowledge = Knowledge()
    contacts_path = folder / "contacts.yml"
    for contact in _load_contacts(contacts_path, problems):
        if contact.id in knowledge.contacts:
            problems.append(Problem(contacts_path.name, contact.id, "id", "duplicate id"))
        knowledge.contacts[contact.id] = contact
    owners: dict[str, str] = {}
    for path in sorted((folder / "schemes").glob("*.yml")):
        scheme = _load_scheme(path, problems)
        if scheme is None:
            continue
        if scheme.id in knowledge.schemes:
            problems.append(
                Problem(scheme.file, scheme.id, "id", f"duplicate id (also in {knowledge.schemes[scheme.id].file})")
            )
        knowledge.schemes[scheme.id] = scheme
        for name in scheme.names():
            other = owners.setdefault(name, scheme.id)
            if other != scheme.id:
                problems.append(
                    Problem(scheme.file, scheme.id, "aliases", f"duplicate alias or name {name!r} (also {other})")
                )
    _check_references(knowledge, problems)
    if problems:
        raise InvalidKnowledge(problems)
    return knowledge


def _load_contacts(path: Path, problems: list[Problem]) -> list[Contact]:
    try:
        data = load_yaml(path)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(Problem(path.name, "-", "-", f"cannot read: {exc}"))
        return []
    if not isinstance(data, list):
        problems.append(Problem(path.name, "-", "-", "must be a list of contacts"))
        return []
    contacts = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            problems.append(Problem(path.name, f"#{index + 1}", "-", "must be a mapping"))
            continue
        r = _Reader(item, path.name, str(item.get("id") or f"#{index + 1}"), problems)
        for unknown in sorted(set(map(str, item)) - CONTACT_FIELDS):
            r.problem(unknown, "unknown field (see knowledge/README.md)")
        cid, name, phone = r.text("id"), r.text("name"), r.text("phone")
        if phone and not phone_is_valid(phone):
            r.problem("phone", f"malformed phone {phone!r}")
        source, source_date = r.source(item.get("source"), "source"), r.partial_date("source_date")[0]
        if cid and name and phone and source and source_date:
            contacts.append(
                Contact(
                    cid,
                    name,
                    phone,
                    source,
                    source_date,
                    r.text("url", False),
                    r.text("hours", False),
                    r.text("note", False),
                    bool(item.get("current")),
                    r.texts("aliases", False),
                )
            )
    return contacts


def _load_scheme(path: Path, problems: list[Problem]) -> Scheme | None:
    try:
        data = load_yaml(path)
    except (OSError, yaml.YAMLError) as exc:
        problems.append(Problem(path.name, path.stem, "-", f"cannot read: {exc}"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(path.name, path.stem, "-", "must be a mapping"))
        return None
    r = _Reader(data, path.name, str(data.get("id") or path.stem), problems)
    for unknown in sorted(set(map(str, data)) - SCHEME_FIELDS):
        r.problem(unknown, "unknown field (see knowledge/README.md)")
    sid = r.text("id")
    if sid and (sid != path.stem or not ID.match(sid)):
        r.problem("id", f"must be snake_case and equal the file name ({path.stem})")
    category = r.text("category")
    if category and category not in HOTLINE_VALUES:
        r.problem("category", f"unknown category {category!r}; one of {', '.join(HOTLINE_VALUES)}")
    summary = r.text("summary")
    if summary and len(summary) > SUMMARY_MAX:
        r.problem("summary", f"{len(summary)} characters, at most {SUMMARY_MAX}")
    sources = _sources(r, data.get("source"))
    start, end = r.date("start", False), r.date("end", False)
    if start and end and end < start:
        r.problem("end", f"end {end} is before start {start}")
    eligibility = data.get("eligibility", {})
    if not isinstance(eligibility, dict):
        r.problem("eligibility", "must be a mapping")
        eligibility = {}
    basis, period, standing_quote = _status_basis(r, data, end)
    source_date, precision = r.partial_date("source_date")
    scheme = Scheme(
        id=sid or path.stem,
        name=r.text("name") or "",
        aliases=r.texts("aliases"),
        category=category or "",
        agency=r.text("agency") or "",
        summary=summary or "",
        eligibility=eligibility,
        benefits=_benefits(r, data.get("benefits")),
        contacts=r.texts("contacts"),
        sources=sources,
        source_date=source_date or dt.date.min,
        last_verified=r.date("last_verified") or dt.date.min,
        start=start,
        end=end,
        end_note=r.text("end_note", False),
        how_to_apply=r.text("how_to_apply", False),
        documents=r.texts("documents", False),
        unofficial=bool(data.get("unofficial", False)),
        replaced_by=r.text("replaced_by", False),
        alternative=r.text("alternative", False),
        status_basis=basis,
        period=period,
        standing_quote=standing_quote,
        source_date_precision=precision,
        source_date_approx=bool(data.get("source_date_approx", False)),
        note=r.text("note", False),
        file=path.name,
    )
    return scheme


def _status_basis(r: _Reader, data: dict[str, Any], end: dt.date | None) -> tuple[str, Period | None, str | None]:
    """``status_basis`` and the field it rests on; a record with no basis is a problem, never a default."""
    basis = r.text("status_basis")
    if basis is None:
        basis = "unknown"
        r.problem("status_basis", f"missing: say how the status is known ({', '.join(STATUS_BASES)})")
    elif basis not in STATUS_BASES:
        r.problem("status_basis", f"unknown basis {basis!r}; one of {', '.join(STATUS_BASES)}")
    period = None
    raw = data.get("period")
    if raw is not None:
        if not isinstance(raw, dict):
            r.problem("period", "must be {label, end}")
        else:
            label = _Reader(raw, r.file, r.record, r.problems).text("label")
            period_end = _Reader(raw, r.file, r.record, r.problems).date("end")
            period = Period(label, period_end) if label and period_end else None
    quote = r.text("standing_quote", False)
    if basis == "end" and end is None:
        r.problem("end", "status_basis end needs an end date")
    if basis == "period" and period is None:
        r.problem("period", "status_basis period needs period: {label, end}")
    if basis == "standing" and not quote:
        r.problem("standing_quote", "status_basis standing needs the source's words (常設、持續受理…)")
    if basis != "end" and end is not None:
        r.problem("end", f"an end date makes the status basis 'end', not {basis!r}")
    if basis != "period" and raw is not None:
        r.problem("period", f"a period makes the status basis 'period', not {basis!r}")
    return basis, period, quote


def _sources(r: _Reader, value: Any) -> tuple[SourceRef, ...]:
    if value is None or value == []:
        r.problem("source", "missing source")
        return ()
    items = value if isinstance(value, list) else [value]
    refs = [r.source(item, "source") for item in items]
    return tuple(ref for ref in refs if ref)


def _benefits(r: _Reader, value: Any) -> tuple[Benefit, ...]:
    if value is None:
        r.problem("benefits", "missing (use [] when the sources give none)")
        return ()
    if not isinstance(value, list):
        r.problem("benefits", "must be a list")
        return ()
    benefits = []
    for index, item in enumerate(value):
        name = f"benefits[{index}]"
        if not isinstance(item, dict):
            r.problem(name, "must be a mapping")
            continue
        for unknown in sorted(set(map(str, item)) - BENEFIT_FIELDS):
            r.problem(f"{name}.{unknown}", "unknown field (a comma inside unquoted text in {...}?)")
        kind, text = item.get("kind"), item.get("text")
        if kind not in BENEFIT_KINDS:
            r.problem(f"{name}.kind", f"unknown kind {kind!r}")
            continue
        if not isinstance(text, str) or not text.strip():
            r.problem(f"{name}.text", "missing original wording")
            continue
        number = item.get("value")
        if number is not None and (isinstance(number, bool) or not isinstance(number, (int, float))):
            r.problem(f"{name}.value", f"must be a number, got {number!r}")
            number = None
        if kind == "statistics" and not re.search(r"\d+年", str(item.get("condition") or "")):
            # A running total is only true as of its date: 「截至114年12月23日進度報告」.
            r.problem(f"{name}.condition", "a statistics item needs the date it counts to (截至…年…)")
        source = r.source(item["source"], f"{name}.source") if "source" in item else None
        reader = _Reader(item, r.file, r.record, r.problems)
        benefits.append(
            Benefit(
                kind,
                text.strip(),
                number,
                item.get("unit"),
                item.get("condition"),
                source,
                bool(item.get("superseded", False)),
                reader.date("end", False),
                reader.text("note", False),
            )
        )
    return tuple(benefits)


def _check_references(knowledge: Knowledge, problems: list[Problem]) -> None:
    for scheme in knowledge.schemes.values():
        for cid in scheme.contacts:
            if cid not in knowledge.contacts:
                problems.append(Problem(scheme.file, scheme.id, "contacts", f"unknown contact id {cid!r}"))
        if scheme.replaced_by == scheme.id:
            problems.append(Problem(scheme.file, scheme.id, "replaced_by", "a scheme cannot replace itself"))
        for name, target in (("replaced_by", scheme.replaced_by), ("alternative", scheme.alternative)):
            if target and target not in knowledge.schemes:
                problems.append(Problem(scheme.file, scheme.id, name, f"unknown scheme id {target!r}"))
