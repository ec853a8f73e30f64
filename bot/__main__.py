"""Command line: ``python -m bot COMMAND``. Thin click wrappers over the library."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.categories import CHANNELS
from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.handoff.staff import StaffStore
    from bot.handoff.tickets import TicketStore
    from bot.kb.query import KnowledgeBase
    from bot.kb.records import Knowledge
    from bot.nlu.parser import RasaParser
    from bot.ops.review import Review

# A command function under click's decorators (each returns the kind it was given).
Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def _settings() -> Settings:
    return Settings.from_env(os.environ)


class _Commands(click.Group):
    """The command group; it turns the library errors that name their own fix into CLI errors, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        from bot.scaled.profile import ProfileError

        try:
            return super().invoke(ctx)
        except (SettingsError, ProfileError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Commands)
def cli() -> None:
    """Tools for the SME hotline assistant.

    triage a question; build and query the knowledge base (kb) and the NLU resources
    (nlu); manage console accounts (staff); review, export, measure and purge ops data
    (ops); score (eval) and retrain the model (retrain); start the bot (run), the event
    consumer (consume), and write the scaled profile's files (profile).
    """
    os.umask(0o077)  # databases, exports and .env hold personal data and secrets (security review M5)


@cli.command()
@click.argument("text", required=False)
@click.option("--jsonl", is_flag=True, help='Read JSON lines {"id", "text"} on stdin, write one JSON line each.')
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Model archive (default: newest in models/).",
)
def triage(text: str | None, jsonl: bool, model: Path | None) -> None:
    """Classify a question: category, intent, confidence, entities, schemes.

    Example: python -m bot triage "我們公司被美國關稅影響訂單掉了一半"
    """
    from bot.triage import Triage

    if bool(text) == jsonl:
        raise click.UsageError("give a TEXT or --jsonl, not both or neither")
    settings = _settings()
    parser = _parser(settings, model)
    engine = Triage(parser, _kb(settings) if settings.kb_path.exists() else None)
    if jsonl:
        for item in engine.classify_lines(sys.stdin, settings.max_message_chars):
            click.echo(json.dumps(item, ensure_ascii=False))
        return
    result = engine.classify(text or "")
    click.echo(f"category:   {result.category}")
    click.echo(f"intent:     {result.intent}")
    click.echo(f"confidence: {result.confidence:.3f}")
    for entity in result.entities:
        click.echo(f"entity:     {entity['entity']} = {entity['value']} ({entity['text']})")
    click.echo(f"schemes:    {', '.join(result.schemes) or '-'}")


def configure_quiet() -> None:
    """Rasa and TensorFlow are chatty on load; triage output must stay clean."""
    import logging

    from bot.log import configure
    from bot.privacy.masking import mask_text

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    configure(logging.WARNING, personal=mask_text)
    for name in ("rasa", "tensorflow", "absl", "jieba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parser(settings: Settings, model: Path | None) -> RasaParser:
    """The trained model, loaded once in this process (quietly)."""
    from bot.nlu.parser import NoModel, RasaParser, latest_model

    configure_quiet()
    try:
        return RasaParser(model or latest_model(settings.models_dir))
    except NoModel as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def nlu() -> None:
    """NLU resources generated from knowledge/ and the gazetteers."""


@nlu.command("build")
def nlu_build() -> None:
    """Build the jieba user dictionary and the spaCy entity ruler under var/nlu.

    Example: python -m bot nlu build
    """
    from bot.nlu.build import build_nlu_resources, entity_terms

    settings = _settings()
    knowledge = _knowledge(settings)
    paths = build_nlu_resources(knowledge, settings.nlu_dir)
    click.echo(f"built {paths.folder} ({len(entity_terms(knowledge))} terms)")


@cli.group()
def kb() -> None:
    """The knowledge base: check records, build var/kb.db, search, show."""


def _knowledge(settings: Settings) -> Knowledge:
    from bot.kb.records import InvalidKnowledge, load_knowledge

    try:
        return load_knowledge(settings.knowledge_dir)
    except InvalidKnowledge as exc:
        raise click.ClickException(f"{len(exc.problems)} problem(s) in {settings.knowledge_dir}:\n{exc}") from exc


def _kb(settings: Settings) -> KnowledgeBase:
    from bot.clock import clock_from_setting
    from bot.kb.query import KnowledgeBase

    try:
        clock = clock_from_setting(settings.today)
    except ValueError as exc:
        raise click.ClickException(f"BOT_TODAY: {exc}") from exc
    if not settings.kb_path.exists():
        raise click.ClickException(f"{settings.kb_path} is missing: run `python -m bot kb build`")
    return KnowledgeBase(settings.kb_path, clock)


@kb.command("check")
def kb_check() -> None:
    """Validate every record; list all problems with file, record and field.

    Example: python -m bot kb check
    """
    knowledge = _knowledge(_settings())
    bases: dict[str, int] = {}
    for scheme in knowledge.schemes.values():
        bases[scheme.status_basis] = bases.get(scheme.status_basis, 0) + 1
    basis_text = ", ".join(f"{k} {v}" for k, v in sorted(bases.items()))
    click.echo(f"ok: {len(knowledge.schemes)} schemes, {len(knowledge.contacts)} contacts; status basis: {basis_text}")


@kb.command("review")
def kb_review() -> None:
    """What to check next: unknown status, sources older than 12 months, unchecked for 90 days, ending in 60 days.

    "Today" is BOT_TODAY when set.

    Example: python -m bot kb review
    """
    from bot.kb.review import as_text, review

    click.echo(as_text(review(_kb(_settings()))))


@kb.command("build")
def kb_build() -> None:
    """Validate the records and build var/kb.db (schemes, benefits, contacts, FTS5 index).

    Example: python -m bot kb build
    """
    from bot.kb.build import build_kb

    settings = _settings()
    knowledge = _knowledge(settings)
    path = build_kb(knowledge, settings.kb_path)
    click.echo(f"built {path}: {len(knowledge.schemes)} schemes, {len(knowledge.contacts)} contacts")


@kb.command("search")
@click.argument("question")
@click.option("--limit", default=5, show_default=True, help="How many schemes at most.")
def kb_search(question: str, limit: int) -> None:
    """Schemes matching a question, best first, with their status today.

    Example: python -m bot kb search "青創貸款利率"
    """
    base = _kb(_settings())
    for scheme in base.search(question, limit=limit):
        click.echo(f"{scheme.id}\t{scheme.category}\t{base.status(scheme).value}\t{scheme.name}")


@kb.command("ask")
@click.argument("question")
@click.option("--why", is_flag=True, help="Also print the ranked candidates with scores and reasons.")
def kb_ask(question: str, why: bool) -> None:
    """Answer a question as the bot would from the knowledge base alone (no intent model), and say why.

    Example: python -m bot kb ask "8個人的烘焙坊想借週轉金 利率跟額度多少"
    """
    from bot.kb.answers import Facts, answer, contacts_answer
    from bot.kb.query import Status
    from bot.kb.resolve import Resolver

    base = _kb(_settings())
    resolver = Resolver(base)
    resolution = resolver.resolve(resolver.question(question))
    decision = resolution.decision()
    if why or not decision.answer:
        click.echo(f"attributes: {', '.join(resolution.question.attributes) or '-'}")
        for candidate in resolution.candidates[:5]:
            click.echo(f"{candidate.score:6.2f}  {candidate.kind:7} {candidate.id}  ({'；'.join(candidate.reasons)})")
    contacts = [resolver.contact(c.id) for c in decision.answer if c.kind == "contact"]
    if contacts:
        click.echo(contacts_answer(contacts))
    for candidate in (c for c in decision.answer if c.kind == "scheme"):
        scheme = base.scheme(candidate.id)
        status = base.status(scheme)
        facts = Facts(
            scheme,
            status,
            tuple(base.contacts(scheme)),
            base.alternative(scheme) if status is Status.ENDED else None,
            base.clock.today(),
        )
        click.echo(
            "\n".join(
                answer(
                    facts,
                    resolution.question.attributes,
                    resolution.question.profile.purpose,
                    text=resolution.question.plain,
                )
            )
        )
    if decision.ask:
        click.echo("ask: " + " / ".join(c.id for c in decision.ask))


@kb.command("show")
@click.argument("scheme_id")
def kb_show(scheme_id: str) -> None:
    """One scheme with its benefits, dates, contacts and sources.

    Example: python -m bot kb show sme_micro_loan_30_under
    """
    from bot.kb.query import UnknownScheme

    base = _kb(_settings())
    try:
        scheme = base.scheme(base.resolve(scheme_id) or scheme_id)
    except UnknownScheme as exc:
        raise click.ClickException(f"no scheme {scheme_id!r}; try `python -m bot kb search`") from exc
    click.echo(f"{scheme.name} ({scheme.id}, {scheme.category}, {base.status(scheme).value})")
    click.echo(f"aliases: {', '.join(scheme.aliases) or '-'}")
    click.echo(f"summary: {scheme.summary}")
    for benefit in scheme.benefits:
        value = "" if benefit.value is None else f" [{benefit.value} {benefit.unit or ''}]"
        click.echo(f"benefit {benefit.kind}{value}: {benefit.text}")
    period = f", period {scheme.period.label} to {scheme.period.end}" if scheme.period else ""
    click.echo(
        f"status basis: {scheme.status_basis}{period}{', standing: ' + scheme.standing_quote if scheme.standing_quote else ''}"
    )
    click.echo(f"dates: start {scheme.start or '-'}, end {scheme.end or '-'} {scheme.end_note or ''}")
    for contact in base.contacts(scheme):
        click.echo(f"contact: {contact.name} {contact.phone}")
    for ref in scheme.sources:
        click.echo(f"source: {ref.label()}")
    click.echo(f"source_date {scheme.source_date}, last_verified {scheme.last_verified}")


@cli.group()
def staff() -> None:
    """Console accounts for hotline staff."""


def _staff_store(scaled: bool) -> StaffStore:
    """The accounts the web app reads (bot/handoff/staff.py ``open_staff_store``); ``scaled``: those of `make run-scaled`."""
    import sqlalchemy.exc

    from bot.handoff.staff import open_staff_store
    from bot.scaled import profile as scaled_profile

    settings = _settings()
    if scaled:  # the tickets database `make run-scaled` gives its processes (bot/scaled/profile.py) holds the accounts
        settings = settings.with_changes(tickets_db_url=scaled_profile.scaled_env(settings)["BOT_TICKETS_DB_URL"])
    try:
        return open_staff_store(settings)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(
            f"cannot open the staff accounts (BOT_TICKETS_DB_URL): {type(exc).__name__}"
        ) from exc


_SCALED_STAFF = click.option(
    "--scaled",
    is_flag=True,
    help="The scale-out profile's accounts, in its tickets database (BOT_TICKETS_DB_URL, else BOT_PG_URL).",
)


@staff.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option(
    "--role",
    type=click.Choice(["agent", "supervisor"]),
    default=None,
    help="agent (new accounts' default) or supervisor (may act on colleagues' claimed tickets).",
)
@_SCALED_STAFF
def staff_add(name: str, password_stdin: bool, role: str | None, scaled: bool) -> None:
    """Create a console account (or reset its password, which ends all its sessions); asks for the password.

    Example: python -m bot staff add chen --role supervisor
    """
    from bot.handoff.staff import StaffError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password (10+ characters)", hide_input=True, confirmation_prompt=True)
    store = _staff_store(scaled)
    try:
        store.add(name, password, role)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()
    click.echo(f"account {name} saved")


@staff.command("access-log")
@click.argument("ticket", type=int, required=False)
@click.option("--limit", default=50, show_default=True, help="How many entries, newest first.")
@_SCALED_STAFF
def staff_access_log(ticket: int | None, limit: int, scaled: bool) -> None:
    """Who opened, answered, transferred or resolved which ticket (newest first).

    Example: python -m bot staff access-log 36
    """
    store = _staff_store(scaled)
    try:
        for row in store.access_log(ticket, limit):
            click.echo(f"{row['at']}  #{row['ticket_id']}  {row['username']}  {row['action']}")
    finally:
        store.close()


@cli.group()
def ops() -> None:
    """Ops data: review, corrections export, metrics, seeding, retention (BOT_OPS_DB_URL)."""


@ops.command("purge")
@click.option("--days", type=click.IntRange(min=1), help="Retention in days (default: BOT_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option(
    "--scaled", is_flag=True, help="The scale-out profile's databases: BOT_PG_URL, its _ops database, tickets there."
)
def ops_purge(days: int | None, dry_run: bool, scaled: bool) -> None:
    """Delete conversations idle longer than the retention period; redact old resolved tickets.

    A conversation goes when its last event is older than N days: its tracker store
    and ops events and its rows in every table with a sender_id column. Tickets
    resolved before then lose the caller's contact details and transcript.

    Example: python -m bot ops purge --days 180 --dry-run
    """
    import sqlalchemy.exc

    from bot.privacy.retention import purge
    from bot.scaled import profile as scaled_profile

    settings = _settings()
    if scaled:  # the databases `make run-scaled` gives its processes
        settings = scaled_profile.scaled_settings(settings)
    tracker = scaled_profile.with_password(settings, settings.tracker_db)
    try:
        with _tickets(settings) as tickets:
            report = purge(
                tracker, scaled_profile.ops_db_url(settings), tickets, days or settings.retention_days, dry_run=dry_run
            )
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"purge failed: {exc}") from exc
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(f"conversations with no event since {report.cutoff:%Y-%m-%d %H:%M} UTC: {report.conversations}")
    for table, count in sorted(report.rows.items()):
        click.echo(f"{verb} {count} rows from {table}")
    click.echo(
        f"{'would redact' if report.dry_run else 'redacted'} {report.tickets_redacted} resolved tickets; "
        f"{verb} {report.contact_drafts} unused contact drafts"
    )


@cli.command("eval")
@click.option(
    "--data",
    "sets",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Held-out set (Rasa NLU YAML, or categories: {id: [texts]}); repeatable. "
    "Default: tests/heldout and tests/heldout_external/external.yml.",
)
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Model archive (default: newest in models/).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Folder for eval.md and eval.json.",
)
def evaluate(sets: tuple[Path, ...], model: Path | None, out: Path) -> None:
    """Score the model on each held-out set by category (F1, OOS, calibration, latency); write reports/eval.md.

    Example: python -m bot eval
    """
    from bot.nlu.evaluation import DEFAULT_SETS, evaluate_parser, load_examples, write_report

    parser = _parser(_settings(), model)
    chosen = list(sets) or [p for p in DEFAULT_SETS if p.exists()]
    reports = [evaluate_parser(parser, load_examples(path), name=str(path)) for path in chosen]
    md = write_report(reports, out)
    click.echo(md.read_text(encoding="utf-8"))


@cli.command("retrain")
@click.option(
    "--corrections",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="NLU YAML to add instead of the ops corrections export (e.g. a reviewed export).",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("config.yml"),
    show_default=True,
    help="Pipeline for the candidate.",
)
@click.option(
    "--qa/--no-qa", default=True, show_default=True, help="Also score the QA set (tests/qa) over REST when present."
)
@click.option(
    "--rasa-url",
    "rasa_urls",
    multiple=True,
    help="Rasa server that loads a promoted model at once (PUT /model; default BOT_RASA_URL). "
    "Repeat for each server of the scaled profile (5005, 5006, ...).",
)
@click.option(
    "--reload/--no-reload",
    default=True,
    show_default=True,
    help="Load a promoted model into the running Rasa servers (else restart them).",
)
def retrain_command(corrections: Path | None, config: Path, qa: bool, rasa_urls: tuple[str, ...], reload: bool) -> None:
    """Train a candidate with the ops corrections, score it against the live model, promote it only if no worse.

    Scores every held-out NLU set (tests/heldout/*.yml) and the QA set; the gate rule and
    both models' figures go to reports/retrain-<date>.md (bot/retrain.py). A promoted
    model is loaded into the running Rasa server through its HTTP API (token BOT_RASA_TOKEN).

    Example: python -m bot retrain --rasa-url http://127.0.0.1:5005
    """
    from dataclasses import replace

    from bot import retrain
    from bot.ops.export import build_export
    from bot.settings import ROOT

    settings = _settings()
    configure_quiet()
    paths = replace(retrain.Paths.of_repo(ROOT, settings.models_dir, settings.var_dir), config=config)
    if corrections is not None:
        yaml_text, skipped = corrections.read_text(encoding="utf-8"), []
    else:
        export = build_export(_review(settings).corrections())
        yaml_text, skipped = export.yaml, export.skipped

    notes = [f"Corrections from {corrections}." if corrections else "Corrections: the ops corrections export."]
    if not (qa and paths.qa is not None):
        notes.append(
            "QA set not scored (" + ("--no-qa" if not qa else "tests/qa/qa.yml is not in this checkout") + ")."
        )

    def scorer(model: Path) -> list[retrain.Figure]:
        click.echo(f"==> scoring {model}", err=True)
        found = retrain.score_nlu(model, paths.heldout)
        if qa and paths.qa is not None:
            try:
                found += retrain.score_qa(model, paths.qa, ROOT)
            except Exception as exc:  # noqa: BLE001 - the QA runner is another helper's; a failure must not pass as "no loss"
                # The live model's QA figures then have no counterpart and the gate refuses, or neither has any.
                notes.append(f"QA set could not be scored for {model.name}: {type(exc).__name__}: {exc}")
        return found

    servers = list(rasa_urls) or [settings.rasa_url]

    def load(model: Path) -> list[str]:
        click.echo(f"==> loading {model} into {', '.join(servers)}", err=True)
        return retrain.load_into_servers(model, servers, settings.rasa_token)

    try:
        outcome = retrain.retrain(paths, yaml_text, skipped, scorer, notes=notes, reload=load if reload else None)
    except retrain.RetrainFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(outcome.report.read_text(encoding="utf-8") if outcome.report else "")
    click.echo(("promoted: " if outcome.promoted else "kept the live model: ") + str(outcome.report), err=True)


@cli.command()
@click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Model archive (default: newest in models/).",
)
@click.option(
    "--scaled",
    is_flag=True,
    help="Scale-out profile: BOT_RASA_SERVERS Rasa servers behind nginx on PostgreSQL, Redis, RabbitMQ.",
)
def run(model: Path | None, scaled: bool) -> None:
    """Start three processes, the action server, the Rasa server and the web app; Ctrl-C stops them all.

    With --scaled (make run-scaled): the action server, the event consumer,
    BOT_RASA_SERVERS Rasa servers on ports 5005, 5006, ..., the web app and nginx on
    BOT_SCALED_PORT balancing across the Rasa servers.

    Example: python -m bot run
    """
    from bot import supervisor
    from bot.nlu.parser import NoModel, latest_model

    settings = _settings()
    settings.require_strong_secrets("BOT_RASA_TOKEN", "BOT_SESSION_SECRET", "BOT_API_TOKEN")
    try:
        chosen = model or latest_model(settings.models_dir)
    except NoModel as exc:
        raise click.ClickException(str(exc)) from exc
    if scaled:
        from bot.scaled import profile as scaled_profile

        sys.exit(scaled_profile.start(settings, chosen, os.environ))
    sys.exit(
        supervisor.run(
            supervisor.services(
                sys.executable,
                chosen,
                settings.rasa_token or "",
                web_port=settings.web_port,
                action_token=settings.action_token,
            )
        )
    )


@contextmanager
def _tickets(settings: Settings) -> Iterator[TicketStore | None]:
    """The ticket store BOT_TICKETS_DB_URL names (PostgreSQL in the scaled profile), or the SQLite file if it exists."""
    from bot.handoff.tickets_sql import open_ticket_store

    store = open_ticket_store(settings) if settings.tickets_db_url or settings.tickets_path.exists() else None
    try:
        yield store
    finally:
        if store is not None:
            store.close()


def _review(settings: Settings) -> Review:
    import sqlalchemy.exc

    from bot.ops.review import Review

    try:
        return Review.from_url(settings.ops_db)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as exc:  # a wrong URL, a missing driver, an unreachable server
        raise click.ClickException(f"cannot open the ops database (BOT_OPS_DB_URL): {type(exc).__name__}") from exc


def _filter_options(*keys: str) -> Callable[[Decorated], Decorated]:
    """click options for the filters of bot.ops.filters.FILTERS (those with ``keys``, or all), in the table's order.

    Each option passes its value under the filter's query key, so the command hands them to
    ``Filters.parse`` as the /ops page does.
    """
    from bot.ops.filters import FILTERS

    def decorate(function: Decorated) -> Decorated:
        for spec in reversed([s for s in FILTERS if not keys or s.key in keys]):
            options: dict[str, Any] = {"help": spec.help, "metavar": spec.metavar}
            if spec.flag_value is not None:
                options["flag_value"] = spec.flag_value
            if spec.choices is not None:
                options["type"] = click.Choice(spec.choices)
            if spec.default is not None:
                options.update(default=spec.default, show_default=True)
            function = click.option(spec.flag, spec.key, **options)(function)
        return function

    return decorate


@ops.command("list")
@_filter_options()
@click.option("--json", "as_json", is_flag=True, help="One JSON object: total, page, pages, rows.")
def ops_list(as_json: bool, **filters: str | None) -> None:
    """Conversations matching filters, newest first (the /ops list for scripts).

    Example: python -m bot ops list --from 2026-11-16 --to 2026-11-22 --fell-back yes --json
    """
    from bot.ops.filters import BadFilter, Filters

    try:
        chosen = Filters.parse(filters)
    except BadFilter as exc:
        raise click.ClickException(str(exc)) from exc
    page = _review(_settings()).search(chosen)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "total": page.total,
                    "page": chosen.page,
                    "pages": page.pages,
                    "rows": [r.as_dict() for r in page.rows],
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"{page.total} conversations, page {chosen.page}/{page.pages}")
    for r in page.rows:
        flags = ("F" if r.failures else "-") + ("H" if r.handed_off else "-") + ("R" if r.reviewed else "-")
        confidence = "-" if r.min_confidence is None else f"{r.min_confidence:.2f}"
        click.echo(
            f"{r.as_dict()['started']}\t{r.sender_id}\t{r.channel}\t{r.category}\t{flags}\t{confidence}\t{r.first_text[:40]}"
        )


@ops.command("export-nlu")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the YAML here (default: stdout)."
)
def ops_export_nlu(output: Path | None) -> None:
    """Intent corrections as Rasa NLU YAML, ready to add to data/nlu/ (skipped texts on stderr).

    Example: python -m bot ops export-nlu -o data/nlu/ops_corrections.yml
    """
    from bot.ops.export import build_export

    export = build_export(_review(_settings()).corrections())
    for text, reason in export.skipped:
        click.echo(f"skipped: {text} ({reason})", err=True)
    if output:
        output.write_text(export.yaml, encoding="utf-8")
        click.echo(f"wrote {len(export.included)} examples to {output}", err=True)
    else:
        click.echo(export.yaml, nl=False)


@ops.command("metrics")
@click.option("--from", "date_from", metavar="YYYY-MM-DD", help="First day (Asia/Taipei); default: everything.")
@click.option("--to", "date_to", metavar="YYYY-MM-DD", help="Last day (inclusive).")
@click.option("--csv", "as_csv", is_flag=True, help="Print one table as CSV (see --table).")
@click.option(
    "--table",
    default="categories",
    show_default=True,
    help="summary, categories, topics, failures, handoff_reasons, hours, unanswered, schemes, ending.",
)
@click.option("--channel", type=click.Choice(CHANNELS), help="Only this channel.")
@_filter_options("synthetic")
def ops_metrics(
    date_from: str | None, date_to: str | None, as_csv: bool, table: str, channel: str | None, synthetic: str
) -> None:
    """Hotline figures for a period: calls per category and share, containment, fallbacks, handoffs...

    Example: python -m bot ops metrics --from 2026-11-01 --to 2026-11-30
    """
    from bot.ops.filters import BadFilter, Filters
    from bot.ops.metrics import report

    settings = _settings()
    try:
        period = Filters.parse(
            {"from": date_from or "", "to": date_to or "", "channel": channel or "", "synthetic": synthetic}
        )
    except BadFilter as exc:
        raise click.ClickException(str(exc)) from exc
    kb = _kb(settings) if settings.kb_path.exists() else None
    with _tickets(settings) as tickets:
        result = report(
            _review(settings).engine,
            period.date_from,
            period.date_to,
            tickets,
            kb,
            channel=period.channel,
            synthetic=period.synthetic,
        )
    tables = {t.key: t for t in result.all_tables()}
    if as_csv:
        if table not in tables:
            raise click.ClickException(f"no table {table!r}; choose from {', '.join(tables)}")
        click.echo(tables[table].csv(), nl=False)
        return
    for t in tables.values():
        click.echo(f"## {t.title}")
        for row in t.rows:
            click.echo("  " + "\t".join(str(cell) for cell in row))
        click.echo("")


@ops.command("seed")
@click.option("--rasa-url", default=None, help="Rasa server (default: BOT_RASA_URL).")
@click.option("--conversations", "count", default=40, show_default=True, help="How many conversations to drive.")
@click.option(
    "--seed", "random_seed", default=7, show_default=True, help="Random seed (same seed, same conversations)."
)
@click.option(
    "--console-url", help="Web app URL: staff then claim, answer and resolve each ticket, and callers rate it."
)
@click.option("--staff", help="Console account for --console-url; its password is read from standard input.")
@click.option(
    "--chat-origin", help="Web app address (e.g. http://127.0.0.1:8000): some conversations then use the web chat."
)
def ops_seed(
    rasa_url: str | None,
    count: int,
    random_seed: int,
    console_url: str | None,
    staff: str | None,
    chat_origin: str | None,
) -> None:
    """Drive the running bot over REST with varied questions and flows, to fill the ops pages.

    Example: python -m bot ops seed --conversations 40 --console-url http://127.0.0.1:8000 --staff mei < password.txt
    """
    from bot.ops.seed import ConsoleLogin, SeedFailed, seed

    if bool(console_url) != bool(staff):
        raise click.UsageError("give --console-url and --staff together")
    console = ConsoleLogin(console_url, staff, sys.stdin.readline().rstrip("\n")) if console_url and staff else None
    try:
        summary = seed(rasa_url or _settings().rasa_url, count, random_seed, console, chat_origin=chat_origin)
    except SeedFailed as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps({k: v for k, v in summary.items() if k != "senders"}, ensure_ascii=False))


@cli.command()
@click.option("--health-port", type=int, help="Serve GET /health on this 127.0.0.1 port (200 while connected).")
def consume(health_port: int | None) -> None:
    """Copy events from RabbitMQ (BOT_AMQP_QUEUE) into the ops database (BOT_OPS_DB_URL).

    Runs until stopped; each message is written once and acknowledged after the commit,
    so a restarted consumer catches up without duplicates.

    Example: python -m bot consume
    """
    import asyncio
    import signal

    from bot.log import configure
    from bot.privacy.masking import mask_text
    from bot.scaled import profile as scaled_profile
    from bot.scaled.consumer import OpsEventWriter
    from bot.scaled.consumer import consume as consume_events

    configure(personal=mask_text)
    settings = _settings()
    amqp = scaled_profile.amqp_connection(settings)
    writer = OpsEventWriter(scaled_profile.ops_db_url(settings))

    async def main() -> int:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        return await consume_events(amqp, settings.amqp_queue, writer, stop, health_port)

    try:
        written = asyncio.run(main())
    finally:
        writer.close()
    click.echo(f"stopped; {written} new events written")


@cli.group()
def profile() -> None:
    """Files generated per deployment profile (default: SQLite; scaled: PostgreSQL, Redis, RabbitMQ)."""


# Profiles with generated files: only the scaled one (the default profile's endpoints.yml is checked in).
GENERATED_PROFILES = click.Choice(["scaled"])


@profile.command("endpoints")
@click.option(
    "--profile",
    "name",
    type=GENERATED_PROFILES,
    required=True,
    help="Which profile: scaled (the default profile's endpoints.yml is checked in).",
)
def profile_endpoints(name: str) -> None:
    """Write var/endpoints.scaled.yml from the BOT_PG_*, BOT_REDIS_*, BOT_AMQP_* settings.

    Passwords stay ${VAR} references that Rasa reads from the environment.

    Example: python -m bot profile endpoints --profile scaled
    """
    from bot.scaled import profile as scaled_profile

    click.echo(f"wrote {scaled_profile.write_scaled_endpoints(_settings())}")


@profile.command("databases")
@click.option(
    "--profile",
    "name",
    type=GENERATED_PROFILES,
    required=True,
    help="Which profile: scaled (the default profile's SQLite files are made on first use).",
)
def profile_databases(name: str) -> None:
    """Create the PostgreSQL databases of the scaled profile if missing (trackers and tickets, ops), and Rasa's tables.

    Example: python -m bot profile databases --profile scaled
    """
    from bot.scaled import profile as scaled_profile

    settings = _settings()
    for name in scaled_profile.prepare_databases(settings):
        click.echo(f"created PostgreSQL database {name}")
    click.echo(f"{len(scaled_profile.scaled_databases(settings))} databases ready")


if __name__ == "__main__":
    cli(prog_name="python -m bot")
