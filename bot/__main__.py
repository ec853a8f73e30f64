"""Command line: ``python -m bot COMMAND``. Thin click wrappers over the library."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from bot.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env(os.environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def cli() -> None:
    """Tools for the SME hotline assistant (triage, knowledge base, NLU)."""


@cli.command()
@click.argument("text", required=False)
@click.option("--jsonl", is_flag=True, help="Read JSON lines {\"id\", \"text\"} on stdin, write one JSON line each.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Model archive (default: newest in models/).")
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
        for result in engine.classify_lines(sys.stdin, settings.max_message_chars):
            click.echo(json.dumps(result, ensure_ascii=False))
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

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    configure(logging.WARNING)
    for name in ("rasa", "tensorflow", "absl", "jieba"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _parser(settings: Settings, model: Path | None):  # type: ignore[no-untyped-def]
    """The trained model, loaded once in this process (quietly)."""
    from bot.triage import NoModel, RasaParser, latest_model

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
    from bot.kb.records import InvalidKnowledge, load_knowledge
    from bot.nlu.build import build_nlu_resources, entity_terms

    settings = _settings()
    try:
        knowledge = load_knowledge(settings.knowledge_dir)
    except InvalidKnowledge as exc:
        raise click.ClickException(f"knowledge records have problems:\n{exc}") from exc
    paths = build_nlu_resources(knowledge, settings.nlu_dir)
    click.echo(f"built {paths.folder} ({len(entity_terms(knowledge))} terms)")


@cli.group()
def kb() -> None:
    """The knowledge base: check records, build var/kb.db, search, show."""


def _knowledge(settings: Settings):  # type: ignore[no-untyped-def]
    from bot.kb.records import InvalidKnowledge, load_knowledge

    try:
        return load_knowledge(settings.knowledge_dir)
    except InvalidKnowledge as exc:
        raise click.ClickException(f"{len(exc.problems)} problem(s) in {settings.knowledge_dir}:\n{exc}") from exc


def _kb(settings: Settings):  # type: ignore[no-untyped-def]
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
    click.echo(f"ok: {len(knowledge.schemes)} schemes, {len(knowledge.contacts)} contacts")


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
    click.echo(f"dates: start {scheme.start or '-'}, end {scheme.end or '-'} {scheme.end_note or ''}")
    for contact in base.contacts(scheme):
        click.echo(f"contact: {contact.name} {contact.phone}")
    for ref in scheme.sources:
        click.echo(f"source: {ref.label()}")
    click.echo(f"source_date {scheme.source_date}, last_verified {scheme.last_verified}")


@cli.group()
def staff() -> None:
    """Console accounts for hotline staff."""


@staff.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
def staff_add(name: str, password_stdin: bool) -> None:
    """Create a console account (or reset its password); asks for the password.

    Example: python -m bot staff add chen
    """
    from bot.staff import StaffError, StaffStore

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password (10+ characters)", hide_input=True, confirmation_prompt=True)
    try:
        StaffStore(_settings().staff_path).add(name, password)
    except StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"account {name} saved")


@cli.group()
def ops() -> None:
    """Ops data: retention of conversations and tickets."""


@ops.command("purge")
@click.option("--days", type=click.IntRange(min=1), help="Retention in days (default: BOT_RETENTION_DAYS).")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
def ops_purge(days: int | None, dry_run: bool) -> None:
    """Delete conversations idle longer than the retention period; redact old resolved tickets.

    A conversation goes when its last event is older than N days: its tracker store
    and ops events and its rows in every table with a sender_id column. Tickets
    resolved before then lose the caller's contact details and transcript.

    Example: python -m bot ops purge --days 180 --dry-run
    """
    import sqlalchemy.exc

    from bot.handoff.tickets import SqliteTicketStore
    from bot.ops.retention import purge

    settings = _settings()
    tickets = SqliteTicketStore(settings.tickets_path) if settings.tickets_path.exists() else None
    try:
        report = purge(settings.tracker_db, settings.ops_db, tickets, days or settings.retention_days, dry_run=dry_run)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"purge failed: {exc}") from exc
    verb = "would delete" if report.dry_run else "deleted"
    click.echo(f"conversations with no event since {report.cutoff:%Y-%m-%d %H:%M} UTC: {report.conversations}")
    for table, count in sorted(report.rows.items()):
        click.echo(f"{verb} {count} rows from {table}")
    click.echo(f"{'would redact' if report.dry_run else 'redacted'} {report.tickets_redacted} resolved tickets; "
               f"{verb} {report.contact_drafts} unused contact drafts")


@cli.command("eval")
@click.option("--data", type=click.Path(exists=True, path_type=Path), default=Path("tests/heldout"), show_default=True, help="Held-out NLU data.")
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Model archive (default: newest in models/).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports"), show_default=True, help="Folder for eval.md and eval.json.")
def evaluate(data: Path, model: Path | None, out: Path) -> None:
    """Score the model on the held-out set by category; write reports/eval.md.

    Example: python -m bot eval
    """
    from bot.evaluation import evaluate_parser, load_examples, write_report
    report = evaluate_parser(_parser(_settings(), model), load_examples(data))
    md = write_report(report, out)
    click.echo(md.read_text(encoding="utf-8"))


@cli.command()
@click.option("--model", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Model archive (default: newest in models/).")
def run(model: Path | None) -> None:
    """Start the action server and the Rasa server; Ctrl-C stops both.

    Example: python -m bot run
    """
    from bot import supervisor
    from bot.triage import NoModel, latest_model

    settings = _settings()
    if not settings.rasa_token:
        raise click.ClickException("BOT_RASA_TOKEN is not set (make run writes one to .env)")
    try:
        chosen = model or latest_model(settings.models_dir)
    except NoModel as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(supervisor.run(supervisor.services(sys.executable, chosen, settings.rasa_token, web_port=settings.web_port)))


if __name__ == "__main__":
    cli(prog_name="python -m bot")
