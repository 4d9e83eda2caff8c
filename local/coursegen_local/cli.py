"""coursegen: generate grounded course outlines offline, with the same workflow as in AWS.

  coursegen books import data/books/sample_library.jsonl
  coursegen generate "Learn DCF valuation" --hours 2
  coursegen show COURSE_ID --json
  coursegen export COURSE_ID --format epub --out course.epub
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coursegen.errors import CoursegenError
from coursegen_local.faults import FAULT_CASES
from coursegen.models import (
    COURSE_ID_PATTERN,
    MAX_HOURS,
    MIN_HOURS,
    ContentMode,
    CoursePreferences,
    CourseRequest,
    Depth,
    Pace,
    StoredCourse,
    describe_validation_error,
)

EXIT_USAGE = 2
EXIT_FAILED = 1
BOOK_FORMATS = ("md", "html", "epub")
PACKAGE_FORMATS = ("scorm", "qti", "gift")  # the packages for learning platforms (domain/artifacts.py EXPORT_FORMATS)
EVENT_LOG = "events.jsonl"  # under COURSEGEN_HOME: every event the local bus delivered
SERVE_MAX_RUNNING = 2  # courses `coursegen serve` generates at once by default
COURSE_ID = re.compile(COURSE_ID_PATTERN)


class UsageError(Exception):
    """Bad arguments: one line, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="coursegen",
        description="Generate grounded course outlines offline: the real Step Functions workflow "
        "(statemachine/course_generation.asl.json) on moto, handlers in-process, embedded PostgreSQL.",
        epilog="Configuration comes from the environment (see README: LLM_PROVIDER, EMBEDDINGS_PROVIDER, DATABASE_URL, ...). "
        "Without it, embeddings come from WordLlama and outlines from the offline planner, which is not an LLM.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser("generate", help="generate a course and print its outline")
    generate.add_argument("query", help='what to learn, e.g. "Learn DCF valuation"')
    generate.add_argument("--hours", type=float, default=2.0, help=f"course length in hours ({MIN_HOURS:g}-{MAX_HOURS:g}; default 2)")
    generate.add_argument("--depth", choices=[d.value for d in Depth], default=Depth.balanced.value,
                          help="how far each part goes: fewer, broader sections or more, narrower ones (default balanced)")
    generate.add_argument("--pace", choices=[p.value for p in Pace], default=Pace.moderate.value,
                          help="how much each section asks of the learner in its time (default moderate)")
    generate.add_argument("--language", default="en", help="de, en, es or fr (default en; the offline writer writes en only)")
    generate.add_argument("--full-lessons", type=_whole_number(0), default=None, metavar="N",
                          help="write the first N lessons in full, the rest as placeholders (default: all)")
    generate.add_argument("--content", choices=[m.value for m in ContentMode], default=ContentMode.theory.value,
                          help="theory: lessons only (default); theory_and_labs: and one lab per part")
    generate.add_argument("--dry-run", action="store_true",
                          help="plan the outline and the lessons, write no lesson: print an estimate of the tokens, cost and "
                               "time writing them would take")
    generate.add_argument("--no-quiz", dest="quiz", action="store_false",
                          help="write no quiz (default: 10-15 questions on the lessons' objectives)")
    generate.add_argument("--no-landing-page", dest="landing_page", action="store_false",
                          help="write no landing page (default: one, as the course site's front page)")
    generate.add_argument("--deploy-staging", action="store_true",
                          help="stage the course site for preview: 'coursegen serve' serves it at /staging/<course id>/")
    generate.add_argument("--price", type=_price, metavar="AMOUNT", help="a price for the landing page's pricing section")
    generate.add_argument("--currency", type=str.upper, metavar="CODE",
                          help="the price's ISO 4217 currency (default EUR; needs --price)")
    generate.add_argument("--course-id", type=_course_id, help="reuse a course id (letters, digits, - and _, at most 80): "
                          "storing again replaces that course, never duplicates it")
    generate.add_argument("--max-concurrency", type=_whole_number(1, 40), metavar="N",
                          help="parts expanded at once, 1-40 (template parameter MapMaxConcurrency)")
    generate.add_argument("--json", action="store_true", help="print one JSON object instead of the outline")
    generate.add_argument("--fault", choices=sorted(FAULT_CASES), metavar="CASE",
                          help="inject a named fault to see how the workflow copes: " + ", ".join(sorted(FAULT_CASES)))
    generate.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    show = commands.add_parser("show", help="print a stored course")
    show.add_argument("course_id", help="as 'coursegen list' or 'generate' printed it")
    show.add_argument("--json", action="store_true", help="print the course as one JSON object")
    show.add_argument("--lessons", action="store_true", help="and its lessons (with --json: each in full)")
    show.add_argument("--labs", action="store_true", help="and its labs (with --json: each in full)")

    export = commands.add_parser("export", help="write a generated course's book (Markdown, HTML, EPUB) or a package for a "
                                 "learning platform (SCORM 1.2, the quiz as QTI 2.1 or GIFT) to a file")
    export.add_argument("course_id", help="as 'coursegen list' or 'generate' printed it")
    export.add_argument("--format", choices=BOOK_FORMATS + PACKAGE_FORMATS, default="html",
                        help="md, html or epub (the book), scorm, qti or gift (the packages); default html")
    export.add_argument("--out", type=Path, metavar="PATH", help="the file to write (default: ./<course id>.<format>)")

    events = commands.add_parser("events", help="list the domain events a course published (offline: the local bus's log)")
    events.add_argument("course_id", help="as 'coursegen list' or 'generate' printed it")
    events.add_argument("--json", action="store_true", help="print the events as a JSON array, as EventBridge delivered them")

    serve = commands.add_parser("serve", help="serve the course API on 127.0.0.1 (executions run offline in the background)")
    serve.add_argument("--port", type=_whole_number(0, 65535), default=8080, help="port to listen on (default 8080; 0: any free one)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--max-running", type=_whole_number(1), default=SERVE_MAX_RUNNING, metavar="N",
                       help=f"courses generated at once (default {SERVE_MAX_RUNNING}); later ones wait, queued. Offline they share one "
                            "Python process with the API, which stays quick only while few compute at once")

    listing = commands.add_parser("list", help="list stored courses, newest first")
    listing.add_argument("--limit", type=_whole_number(1, 1000), default=20, metavar="N", help="at most N courses, 1-1000 (default 20)")

    books = commands.add_parser("books", help="manage the book library")
    book_commands = books.add_subparsers(dest="books_command", required=True, metavar="BOOKS_COMMAND")
    importer = book_commands.add_parser("import", help="import book summaries from a JSONL file (one book per line)")
    importer.add_argument("file", type=Path, help="UTF-8 JSONL: book_id, title, summary, and optionally author, subject, year, "
                          "key_topics (see data/books/sample_library.jsonl); a book imported again is updated")
    importer.add_argument("--json", action="store_true", help="print the report as JSON")
    book_commands.add_parser("count", help="how many books the library holds")
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as done:  # --help, or a bad argument already reported in one line
        return int(done.code or 0)
    try:
        return _dispatch(args)
    except UsageError as error:
        print(f"coursegen: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CoursegenError as error:
        print(f"coursegen: {type(error).__name__}: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("coursegen: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - one line for the user; --debug for the details
        if args.debug:
            traceback.print_exc()
        print(f"coursegen: unexpected {type(error).__name__}: {error} (run with --debug for details)", file=sys.stderr)
        return EXIT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "generate":
        return _generate(args)
    if args.command == "show":
        return _show(args)
    if args.command == "list":
        return _list(args)
    if args.command == "export":
        return _export(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "events":
        return _events(args)
    if args.books_command == "import":
        return _import_books(args)
    return _count_books()


def _request(args: argparse.Namespace) -> CourseRequest:
    if args.currency and args.price is None:
        raise UsageError("--currency needs --price (the amount to show on the landing page)")
    try:
        return CourseRequest(
            query=args.query,
            hours=args.hours,
            preferences=CoursePreferences(depth=args.depth, pace=args.pace),
            language=args.language,
            full_lessons_count=args.full_lessons,
            content_mode=args.content,
            dry_run=args.dry_run,
            generate_quiz=args.quiz,
            generate_landing_page=args.landing_page,
            deploy_to_staging=args.deploy_staging,
            price=None if args.price is None else {"amount": args.price, "currency": args.currency or "EUR"},
        )
    except ValidationError as error:
        raise UsageError(describe_validation_error(error)) from None


def _generate(args: argparse.Namespace) -> int:
    from coursegen.errors import LanguageNotWritten
    from coursegen.services.courses import refuse_unwritten_language
    from coursegen_local.runner import LocalRunner

    request = _request(args)
    overrides = {"MapMaxConcurrency": str(args.max_concurrency)} if args.max_concurrency else None
    case = FAULT_CASES.get(args.fault) if args.fault else None
    options = {"llm": case.llm()} if case and case.llm else {}
    faults = case.faults() if case else []
    if case and not args.quiet:
        print(f"Injecting fault {case.name}: {case.description} (expected: {case.outcome})", file=sys.stderr)
    options |= case.runner_options if case else {}
    from coursegen_local.database import data_home

    with LocalRunner(parameter_overrides=overrides, faults=faults, retry_time_scale=0.05 if case else 1.0,
                     event_log=data_home() / EVENT_LOG, **options) as runner:
        try:
            refuse_unwritten_language(request.language, runner.container.course_service.languages)
        except LanguageNotWritten as error:
            raise UsageError(str(error)) from None
        if runner.container.books.count_books() == 0:
            raise UsageError("the book library is empty: run 'coursegen books import data/books/sample_library.jsonl' first")
        progress = _ProgressPrinter(enabled=not args.quiet)
        if not args.quiet:
            print(f'Generating "{request.query}" ({request.hours:g} h) with {runner.container.llm.name} ...', file=sys.stderr)
        with contextlib.redirect_stdout(sys.stderr):  # stdout is for the outline (or the JSON) only
            result = runner.run(request, course_id=args.course_id, on_progress=progress)
        written = result.course is not None and not request.dry_run  # a dry run writes none (rows of a run before are not its)
        lessons = runner.container.database.list_lessons(result.course_id) if written else []
        labs = runner.container.database.list_labs(result.course_id) if written else []
        book = _save_book(runner, result.course_id) if lessons else None
        published = _save_published(runner, result.course_id) if lessons else {}
        quiz = runner.container.database.get_quiz(result.course_id) if written else None
        runner.published_events()  # the run's events, into the local bus's log (coursegen events)
    if result.course is None:
        error = result.status.get("error") or {"type": result.execution_status, "message": "the execution did not complete", "phase": result.status.get("phase")}
        if args.json:
            print(json.dumps({"course_id": result.course_id, "status": "error", "error": error}, indent=2))
        print(f"coursegen: course {result.course_id} failed in {error.get('phase')}: {error.get('type')}: {error.get('message')}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        document = result.course.document() | {
            "lessons": [lesson_document(lesson) for lesson in lessons],
            "labs": [lab_document(lab) for lab in labs],
            **({"estimate": result.status.get("estimate")} if request.dry_run else {}),
            "book": {fmt: str(path) for fmt, path in (book or {}).items()},
            "quiz": quiz.model_dump(mode="json") if quiz else None,
            "landing_page": ({"landing_page_id": result.status.get("landing_page_id"), "path": str(published["site"] / "index.html")}
                             if result.status.get("landing_page_id") else None),
            "site": str(published["site"]) if published else None,
            "exports": {fmt: str(path) for fmt, path in published.get("exports", {}).items()},
            "staging_url": result.status.get("staging_url"),
            "evidence_pack": ({"path": result.status.get("evidence_pack_path"), "file": str(published["evidence"])}
                              if published.get("evidence") else None),
            "run": {"seconds": round(result.seconds, 2), "transitions": result.transitions,
                    "lambda_invocations": result.lambda_invocations, "largest_payload_bytes": result.largest_payload_bytes},
        }
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(render_course(result.course))
        print(render_lessons(lessons, book))
        if labs:
            print(render_labs(labs))
        if request.dry_run:
            print(render_estimate(result.status.get("estimate")))
        if published:
            print(render_published(quiz, published, result.status))
        print(f"\nRun: {result.seconds:.1f} s, {result.transitions} state transitions, {result.lambda_invocations} Lambda invocations, "
              f"largest state payload {result.largest_payload_bytes} bytes.")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        """One line and exit 2, naming --help, instead of argparse's usage block."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _whole_number(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text) if text.isdigit() and len(text) <= 9 else None
        if value is None or value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"of at least {low}"
            raise argparse.ArgumentTypeError(f"must be a whole number {bounds}, not {text!r}")
        return value

    return parse


def _price(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1_000_000:
        raise argparse.ArgumentTypeError(f"must be an amount between 0 and 1000000, not {text!r}")
    return value


def _course_id(text: str) -> str:
    if not COURSE_ID.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 1-80 letters, digits, - or _, not {text!r}")
    return text


def _serve(args: argparse.Namespace) -> int:
    from coursegen_local.runner import LocalRunner
    from coursegen_local.server import make_server

    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    from coursegen_local.database import data_home

    with LocalRunner(max_running=args.max_running, event_log=data_home() / EVENT_LOG,
                     staging_base_url=f"http://{args.host}:{args.port or 8080}/staging/") as runner:
        try:
            server = make_server(runner, args.host, args.port)
        except OSError as error:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {error.strerror} (try --port)") from None
        runner.container.settings = runner.container.settings.model_copy(
            update={"staging_base_url": f"http://{args.host}:{server.server_port}/staging/"})  # port 0: the one it got
        threading.Thread(target=_keep_event_log, args=(runner,), daemon=True).start()
        print(f"coursegen API on http://{args.host}:{server.server_port} (offline: moto Step Functions, embedded "
              f"PostgreSQL, {runner.container.llm.name}). Ctrl-C stops.", file=sys.stderr, flush=True)
        serving = threading.Thread(target=server.serve_forever, daemon=True)
        serving.start()
        try:
            while serving.is_alive():
                serving.join(0.5)  # the main thread stays free to take Ctrl-C / SIGTERM
        except KeyboardInterrupt:
            server.draining = True  # status and course GETs go on; new courses are refused
            return _finish_running_courses(runner)
        finally:
            server.shutdown()
            server.server_close()
    return 0


def _keep_event_log(runner) -> None:
    """serve's courses' events, into the local bus's log as they arrive (coursegen events reads it)."""
    while not runner.closing.wait(1.0):
        try:
            runner.published_events()
        except Exception as error:  # noqa: BLE001 - the log is a convenience; serving goes on
            print(f"coursegen: could not log events: {error}", file=sys.stderr)


def _finish_running_courses(runner) -> int:
    """Offline, a course's progress lives in this process until it is stored: stopping mid-course
    loses it. So serve stops once the courses it took are done; a second Ctrl-C abandons them."""
    running = runner.running_courses()
    if not running:
        return 0
    print(f"coursegen: stopping once the {len(running)} course(s) still generating are done (new ones are refused); "
          "Ctrl-C again abandons them.", file=sys.stderr, flush=True)
    try:
        while running:
            time.sleep(0.5)
            still = runner.running_courses()
            if len(still) != len(running):
                print(f"  {len(still)} still generating", file=sys.stderr, flush=True)
            running = still
    except KeyboardInterrupt:
        print(f"coursegen: abandoned {len(running)} course(s) mid-generation, which are lost: {', '.join(running)}",
              file=sys.stderr)
        return 130
    return 0


def _stop_like_ctrl_c(signum, frame) -> None:
    """SIGTERM (a supervisor, the load test) ends serve as Ctrl-C does, so the embedded
    PostgreSQL is stopped on the way out instead of being left running."""
    raise KeyboardInterrupt


def _with_repository(action):
    from coursegen.bootstrap import Container
    from coursegen.config import Settings
    from coursegen_local.database import embedded_database_url

    settings = Settings.from_env()
    container = Container(settings.model_copy(update={"database_url": settings.database_url or embedded_database_url()}))
    try:
        return action(container)
    finally:
        if "database" in container.__dict__:
            container.database.close()


def _show(args: argparse.Namespace) -> int:
    course, lessons, labs = _with_repository(lambda c: (
        c.courses.get_course(args.course_id), c.database.list_lessons(args.course_id), c.database.list_labs(args.course_id)))
    if course is None:
        raise UsageError(f"no course with id {args.course_id} (see 'coursegen list')")
    if args.json:
        document = course.document() | ({"lessons": [lesson_document(lesson) for lesson in lessons]} if args.lessons else {})
        document |= {"labs": [lab_document(lab) for lab in labs]} if args.labs else {}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(render_course(course) + (render_lessons(lessons, None) if args.lessons else "")
              + ((render_labs(labs) or "\nLabs: none (a theory course; generate with --content theory_and_labs for labs)")
                 if args.labs else ""))
    return 0


def _export(args: argparse.Namespace) -> int:
    """The book generate built and saved (COURSEGEN_HOME/books/<id>/), written where the user says.
    Offline the payload bucket lives only as long as its run: the saved copy is the book."""
    from coursegen_local.database import data_home

    if not COURSE_ID.fullmatch(args.course_id):
        raise UsageError(f"no course with id {args.course_id} (see 'coursegen list')")
    from coursegen.domain.artifacts import EXPORT_FORMATS

    name = EXPORT_FORMATS[args.format][0] if args.format in PACKAGE_FORMATS else f"course.{args.format}"
    saved = data_home() / "books" / args.course_id / name
    if not saved.is_file():
        course = _with_repository(lambda c: c.courses.get_course(args.course_id))
        if course is None:
            raise UsageError(f"no course with id {args.course_id} (see 'coursegen list')")
        if args.format in ("qti", "gift") and (data_home() / "books" / args.course_id / "course.md").is_file():
            raise UsageError(f"course {args.course_id} has no quiz, so no {args.format} package (it was generated with "
                             "--no-quiz, or with no lesson in full)")
        raise UsageError(f"course {args.course_id} has no {args.format} saved here (a dry run writes none): "
                         f"generate it again with 'coursegen generate ... --course-id {args.course_id}'")
    out = args.out or Path(f"{args.course_id}.{name.removeprefix('course.')}")
    if out.is_dir():
        raise UsageError(f"{out}: is a folder; name the file to write, e.g. {out / saved.name}")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent}: no such folder")
    partial = out.with_name(f".{out.name}.partial")  # never a half-written book under the name asked for
    partial.write_bytes(saved.read_bytes())
    partial.replace(out)
    figures = saved.parent / "figures"
    extra = ""
    if args.format == "md" and figures.is_dir():  # the Markdown names its figures' files (HTML and EPUB hold theirs)
        shutil.copytree(figures, out.parent / "figures", dirs_exist_ok=True)
        extra = f", and its {len(list(figures.iterdir()))} figure(s) in {out.parent / 'figures'}"
    print(f"Wrote {out} ({out.stat().st_size:,} bytes, {args.format}){extra}.")
    return 0


def _events(args: argparse.Namespace) -> int:
    from coursegen_local.database import data_home
    from coursegen_local.events import course_events

    if not COURSE_ID.fullmatch(args.course_id):
        raise UsageError(f"no course with id {args.course_id} (see 'coursegen list')")
    found = course_events(data_home() / EVENT_LOG, args.course_id)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found:
        raise UsageError(f"no events of course {args.course_id} on the local bus (events are kept for courses "
                         "generated here with 'coursegen generate' or 'coursegen serve')")
    for event in found:
        payload = event["detail"]["payload"]
        shown = {k: v for k, v in payload.items() if k != "course_id" and not isinstance(v, list)}
        print(f"{event.get('time', '')}  {event['detail-type']:<28} "
              + " ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in shown.items()))
    return 0


def _list(args: argparse.Namespace) -> int:
    courses = _with_repository(lambda c: c.courses.list_courses(limit=args.limit))
    if not courses:
        print("No courses yet: coursegen generate \"Learn DCF valuation\" --hours 2")
    for course in courses:
        print(f"{course.course_id}  {course.created_at}  {course.total_minutes:>4} min  {course.outline.title}")
    return 0


def _import_books(args: argparse.Namespace) -> int:
    from coursegen.services.library import import_library

    if args.file.is_dir():
        raise UsageError(f"{args.file}: is a folder; name the .jsonl file in it")
    if not args.file.is_file():
        raise UsageError(f"{args.file}: no such file")
    data = args.file.read_bytes()
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UsageError(f"{args.file}: not UTF-8 text (line {line}); save it as UTF-8 and import again") from None
    if not any(line.strip() for line in lines):
        raise UsageError(f"{args.file}: holds no books (one JSON object per line; see data/books/sample_library.jsonl)")

    def run(container):
        return import_library(lines, container.embedder, container.books)

    report = _with_repository(run)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"Imported {report.imported} book(s) from {args.file}; rejected {len(report.rejected)} line(s).")
        for line, reason in report.rejected:
            print(f"  line {line}: {reason}")
    return 0 if report.imported or not report.rejected else EXIT_FAILED


def _count_books() -> int:
    print(_with_repository(lambda c: c.books.count_books()))
    return 0


class _ProgressPrinter:
    """One stderr line per change of phase, parts or lessons done."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last: tuple | None = None

    def __call__(self, status: dict[str, Any]) -> None:
        progress = status.get("progress", {})
        key = (status.get("phase"), progress.get("parts_done"), progress.get("percent"))
        if not self.enabled or key == self.last:
            return
        self.last = key
        if progress.get("lessons_total"):
            done = f" - {progress.get('lessons_done', 0)}/{progress['lessons_total']} lessons"
        elif progress.get("parts_total"):
            done = f" - {progress.get('parts_done', 0)}/{progress['parts_total']} parts"
        else:
            done = ""
        print(f"  [{progress.get('percent', 0):>3}%] {status.get('phase')}{done}", file=sys.stderr, flush=True)


def _save_book(runner, course_id: str) -> dict[str, Path]:
    """The built book, out of the runner's (in-memory) bucket into COURSEGEN_HOME/books/<course id>/."""
    from coursegen.domain.artifacts import book_key
    from coursegen.services.lessons import book_keys
    from coursegen_local.database import data_home

    folder = data_home() / "books" / course_id
    folder.mkdir(parents=True, exist_ok=True)
    s3 = runner.container._aws("s3")
    bucket = runner.container.settings.payload_bucket
    saved = {}
    for fmt, key in book_keys(course_id).items():
        saved[fmt] = folder / f"course.{fmt}"
        saved[fmt].write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    # the Markdown's figures, beside it as it names them (figures/lesson-P-S.svg)
    shutil.rmtree(folder / "figures", ignore_errors=True)
    prefix = book_key(course_id, "")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "figures/"):
        for item in page.get("Contents", []):
            target = folder / item["Key"].removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    return saved


def _save_published(runner, course_id: str) -> dict[str, Any]:
    """What the publishing stage made, out of the runner's (in-memory) buckets: the site into
    COURSEGEN_HOME/sites/<id>/, the packages and the evidence pack beside the book, and a staged
    site into COURSEGEN_HOME/staging/<id>/ (which `coursegen serve` serves when its bucket has none)."""
    from coursegen.domain.artifacts import EXPORT_FORMATS, evidence_key, export_key, site_prefix
    from coursegen_local.database import data_home

    s3 = runner.container._aws("s3")
    settings = runner.container.settings

    def download(bucket: str, prefix: str, folder: Path) -> int:
        shutil.rmtree(folder, ignore_errors=True)  # a rebuild replaces, never mixes two builds
        count = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                target = folder / item["Key"].removeprefix(prefix)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                count += 1
        return count

    saved: dict[str, Any] = {"site": data_home() / "sites" / course_id, "exports": {}}
    if not download(settings.payload_bucket, site_prefix(course_id), saved["site"]):
        return {}  # nothing published (a dry run)
    books = data_home() / "books" / course_id
    for fmt in EXPORT_FORMATS:
        target = books / EXPORT_FORMATS[fmt][0]
        target.unlink(missing_ok=True)
        data = runner.payload(export_key(course_id, fmt))
        if data is not None:
            target.write_bytes(data)
            saved["exports"][fmt] = target
    if (evidence := runner.payload(evidence_key(course_id))) is not None:
        saved["evidence"] = books / "evidence.json"
        saved["evidence"].write_bytes(evidence)
    staged = data_home() / "staging" / course_id
    saved["staged"] = staged if download(settings.staging_bucket, f"{course_id}/", staged) else None
    return saved


def render_published(quiz, published: dict[str, Any], status: dict[str, Any]) -> str:
    lines = ["", "Published:"]
    if quiz is not None:
        lines.append(f"  Quiz: {len(quiz.questions)} questions ({quiz.generator})")
    lines.append(f"  Site: {published['site'] / 'index.html'}"
                 + (" (its front page is the landing page)" if status.get("landing_page_id") else ""))
    for fmt, path in published["exports"].items():
        lines.append(f"  {fmt.upper()}: {path}")
    if published.get("evidence"):
        lines.append(f"  Evidence pack: {published['evidence']}")
    if status.get("staging_url"):
        lines.append(f"  Staged: {status['staging_url']} (served by 'coursegen serve'; files in {published['staged']})")
    return "\n".join(lines)


def lesson_document(lesson) -> dict:
    """A lesson as `generate --json` gives it."""
    return {"lesson_id": lesson.lesson_id, "part_index": lesson.part_index, "title": lesson.title,
            "minutes": lesson.minutes, "words": lesson.words, "status": lesson.status,
            "objectives": lesson.objective_ids, "sources": lesson.book_ids, "markdown": lesson.markdown}


def render_lessons(lessons, book: dict[str, Path] | None) -> str:
    if not lessons:
        return ""
    lines = ["", f"Lessons ({len(lessons)}, {sum(lesson.words for lesson in lessons):,} words):"]
    for lesson in lessons:
        lines.append(f"  {lesson.part_index + 1}.{lesson.section_index + 1}  {lesson.title} - "
                     f"{lesson.minutes:.0f} min, {lesson.words:,} words")
    if book:
        lines.append(f"Book: {book['html']} (also {book['md'].name}, {book['epub'].name})")
    return "\n".join(lines)


def lab_document(lab) -> dict:
    """A lab as `generate --json` and `show --labs --json` give it."""
    return {"lab_id": lab.lab_id, "part_index": lab.part_index, "title": lab.title, "status": lab.status,
            "objectives": lab.objective_ids, "sources": lab.book_ids, "markdown": lab.markdown}


def render_labs(labs) -> str:
    if not labs:
        return ""
    lines = ["", f"Labs ({len(labs)}, one per part):"]
    lines += [f"  Lab {lab.part_index + 1}  {lab.title} - practises {len(lab.objective_ids)} objective(s)"
              + ("" if lab.status == "full" else f" ({lab.status})") for lab in labs]
    return "\n".join(lines)


def render_estimate(estimate: dict | None) -> str:
    if not estimate:
        return "\nDry run: no estimate was recorded."
    cost = estimate["cost_usd"]
    cost = "no price listed for the model" if cost is None else f"${cost:.2f}" if cost >= 0.01 else "under $0.01"
    return "\n".join([
        "",
        f"Dry run: no lesson written. Writing the {estimate['lessons_planned']} planned lessons "
        f"({estimate['lessons_in_full']} in full, {estimate['batches']} batches"
        + (f", and {estimate['labs']} labs" if estimate.get("labs") else "") + ") would take about:",
        f"  model calls      {estimate['model_calls']:,}",
        f"  tokens           {estimate['input_tokens']:,} in, {estimate['output_tokens']:,} out",
        f"  cost             {cost}",
        f"  time             {_minutes(estimate['wall_seconds'])} ({estimate['max_concurrency']} batches at once; "
        f"{_minutes(estimate['sequential_seconds'])} one after another)",
        f"  basis            {estimate['basis']}",
    ])


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"


def render_course(course: StoredCourse) -> str:
    doc = course.document()
    lines = [f"{doc['title']}", f"  course id: {doc['course_id']}", f"  generated by: {doc['generator']}", ""]
    for number, part in enumerate(doc["parts"], start=1):
        lines.append(f"Part {number}: {part['title']} ({part['minutes']} min)")
        for s_number, section in enumerate(part["sections"], start=1):
            lines.append(f"  {number}.{s_number}  {section['title']} - {section['minutes']} min")
    lines.append("")
    verdict = "within the 5% tolerance" if doc["within_tolerance"] else "OUTSIDE the 5% tolerance"
    lines.append(
        f"Total: {doc['total_minutes']} min for a target of {doc['target_minutes']} min "
        f"({doc['variance_percent']:+.1f}%, {verdict})"
    )
    lines.append(
        f"Review: {doc['review_attempts']} pass(es) ran" if doc["reviewed"] else "Review: not needed (the first outline was within 5%)"
    )
    if doc["warning"]:
        lines.append(f"Warning: {doc['warning']}")
    lines.append("Sources:")
    for book in doc["sources"]:
        lines.append(f"  [{book['book_id']}] {book['title']} - {book['author']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
