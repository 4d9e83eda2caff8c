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

    _review_parsers(commands)

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
    if args.command in ("review", "publish", "archive"):
        return _lifecycle(args)
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
        served = f"http://{args.host}:{server.server_port}/"  # port 0: the one it got
        runner.container.settings = runner.container.settings.model_copy(
            update={"staging_base_url": f"{served}staging/", "site_base_url": f"{served}sites/"})
        threading.Thread(target=_keep_event_log, args=(runner,), daemon=True).start()
        print(f"coursegen API on http://{args.host}:{server.server_port} (offline: moto Step Functions, embedded "
              f"PostgreSQL, {runner.container.llm.name}). Ctrl-C stops.", file=sys.stderr, flush=True)
        waiting = runner.reenter_waits()  # the courses that waited for a decision when serve last stopped
        if waiting:
            print(f"coursegen: {len(waiting)} course(s) waited for a decision when serve last stopped; each runs again "
                  f"from its request and waits again: {', '.join(waiting)}", file=sys.stderr, flush=True)
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
    loses it. So serve stops once the courses it took are done; a second Ctrl-C abandons them. A
    course that waits for a decision does not hold serve up: the next serve re-enters its wait."""
    running = runner.generating_courses()
    if not running:
        return 0
    print(f"coursegen: stopping once the {len(running)} course(s) still generating are done (new ones are refused); "
          "Ctrl-C again abandons them.", file=sys.stderr, flush=True)
    try:
        while running:
            time.sleep(0.5)
            still = runner.generating_courses()
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


# -- review, publish, archive: HTTP to a running `coursegen serve` (offline, the waiting execution lives there) --
DEFAULT_SERVER = "http://127.0.0.1:8080"  # coursegen serve's default address; COURSEGEN_SERVER or --server for another
SERVER_TIMEOUT_SECONDS = 60
TENANT = re.compile(r"[\x21-\x7e][\x20-\x7e]{0,199}")  # printable ASCII: a header value, never a second header
# What each decision the API allows is, typed: the 409 and `review` name the command, not only the word.
DECISION_COMMANDS = {
    "submit": "coursegen review {id} --submit",
    "approve": "coursegen review {id} --approve",
    "request_changes": "coursegen review {id} --request-changes LESSON_ID --feedback TEXT",
    "reject": "coursegen review {id} --reject",
    "publish": "coursegen publish {id}",
    "archive": "coursegen archive {id}",
}
OUTLINE_DECISION_COMMANDS = {  # the same words on a waiting outline
    "approve": "coursegen review {id} --approve [--outline FILE]",
    "request_changes": "coursegen review {id} --request-changes --feedback TEXT (a re-plan)",
}
NEEDS_SERVE = ("It talks HTTP to a running 'coursegen serve' (start it first: offline, the courses' executions and "
               "their waits live there), at --server URL (default: $COURSEGEN_SERVER, else " + DEFAULT_SERVER + ").")


def _review_parsers(commands) -> None:
    """review, publish, archive: the lifecycle's commands (seed 004), each a call to `coursegen serve`."""
    raw = argparse.RawDescriptionHelpFormatter
    review = commands.add_parser(
        "review", formatter_class=raw,
        help="show what a course's review waits for, or decide it (needs a running 'coursegen serve')",
        description="Without a decision: what the course waits for (GET /courses/ID/review) - its workflow state,\n"
                    "the decisions allowed now, its lessons with their revisions and its transitions so far.\n"
                    "With one: the decision (POST /courses/ID/review), and its outcome.\n\n" + _wrapped(NEEDS_SERVE),
        epilog="examples:\n"
               "  coursegen review ID                      what waits, and what you may decide\n"
               "  coursegen review ID --approve            REVIEW -> PUBLISH_READY (then: coursegen publish ID)\n"
               "  coursegen review ID --request-changes LESSON_ID --feedback \"More on WACC\" \\\n"
               "                      --request-changes LESSON_ID2 --feedback \"Shorter\"\n"
               "                                           those lessons rewritten (revision + 1), then REVIEW again\n"
               "  coursegen review ID --reject --note \"Off topic\"   REVIEW -> DRAFT\n"
               "  coursegen review ID --submit             DRAFT -> REVIEW\n"
               "on a course waiting for its outline (waiting_for outline_approval):\n"
               "  coursegen review ID --approve [--outline edited.txt]   go on (with an edited outline)\n"
               "  coursegen review ID --request-changes --feedback \"Fewer parts\"   re-plan it")
    review.add_argument("course_id", type=_course_id, help="as POST /courses (or 'coursegen list') gave it")
    review.add_argument("--submit", action="store_true", help="ask for a review of a DRAFT course (-> REVIEW)")
    review.add_argument("--approve", action="store_true",
                        help="approve the waiting review (-> PUBLISH_READY) or the waiting outline (the lessons get written)")
    review.add_argument("--outline", type=Path, metavar="FILE",
                        help="with --approve on a waiting outline: an edited outline (UTF-8 text, the outline's own "
                             "format) to approve instead; checked by the same parser and the 5%% time budget")
    review.add_argument("--request-changes", dest="changes", action=_in_order("lesson"), nargs="?", const="",
                        metavar="LESSON_ID", help="rewrite this lesson with the --feedback that follows (repeat the pair for "
                                                  "more lessons); without LESSON_ID, on a waiting outline: re-plan it with --feedback")
    review.add_argument("--feedback", dest="changes", action=_in_order("feedback"), metavar="TEXT",
                        help="what to change, for the --request-changes before it (at most 2,000 characters)")
    review.add_argument("--reject", action="store_true", help="reject the waiting review (-> DRAFT)")
    review.add_argument("--note", metavar="TEXT", help="a note recorded with the decision (its transition's note)")
    _serve_client_arguments(review)

    publish = commands.add_parser(
        "publish", help="publish an approved course (PUBLISH_READY -> PUBLISHED) and print its site's URL (needs a running "
                        "'coursegen serve')",
        description="Publish an approved course (POST /courses/ID/publish): its built site goes live, offline at "
                    "coursegen serve's /sites/ID/. Publishing again answers the same. " + NEEDS_SERVE)
    publish.add_argument("course_id", type=_course_id, help="a course in PUBLISH_READY (coursegen review ID --approve)")
    _serve_client_arguments(publish)

    archive = commands.add_parser(
        "archive", help="archive a course (-> ARCHIVED): unpublished, its content kept (needs a running 'coursegen serve')",
        description="Archive a course (POST /courses/ID/archive): its published site is taken down, its outline, "
                    "lessons, quiz and packages are kept. Not while a review or an outline waits: decide first. "
                    "Archiving again answers the same. " + NEEDS_SERVE)
    archive.add_argument("course_id", type=_course_id, help="a course in DRAFT, PUBLISH_READY or PUBLISHED")
    _serve_client_arguments(archive)


def _serve_client_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--server", metavar="URL",
                        help=f"the running 'coursegen serve' (default: $COURSEGEN_SERVER, else {DEFAULT_SERVER})")
    parser.add_argument("--tenant", type=_tenant, metavar="NAME",
                        help="act as this tenant (serve's X-Coursegen-Tenant header; default: none, so serve's "
                             "local-user, who owns the courses POSTed to serve without the header, as with curl)")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


def _wrapped(text: str, width: int = 100) -> str:
    import textwrap

    return textwrap.fill(text, width)


def _in_order(kind: str) -> type[argparse.Action]:
    """--request-changes and --feedback into one list, in the order typed: each --feedback belongs to
    the --request-changes before it."""

    class InOrder(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None) -> None:
            setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), (kind, values)])

    return InOrder


def _tenant(text: str) -> str:
    if not TENANT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be 1-200 printable ASCII characters, not {text[:40]!r}")
    return text


def _lifecycle(args: argparse.Namespace) -> int:
    path = f"/courses/{args.course_id}/{args.command}"
    if args.command == "review":
        body = _decision_body(args)
        if body is None:
            return _call_serve(args, "GET", path, None, _render_review)
        return _call_serve(args, "POST", path, body, _render_outcome)
    return _call_serve(args, "POST", path, None, _render_outcome)


def _decision_body(args: argparse.Namespace) -> dict | None:
    """The POST /courses/{id}/review body the flags ask for; None for no decision (show what waits)."""
    changes = args.changes or []
    asked = [flag for flag, given in (("--submit", args.submit), ("--approve", args.approve),
                                      ("--request-changes", any(kind == "lesson" for kind, _ in changes)),
                                      ("--reject", args.reject)) if given]
    if len(asked) > 1:
        raise UsageError(f"one decision at a time, not {' and '.join(asked)}")
    if any(kind == "feedback" for kind, _ in changes) and asked != ["--request-changes"]:
        raise UsageError("--feedback goes with --request-changes: --request-changes LESSON_ID --feedback TEXT (or, on a "
                         "waiting outline, --request-changes --feedback TEXT to re-plan it)")
    if args.outline is not None and asked != ["--approve"]:
        raise UsageError("--outline goes with --approve: an edited outline, approved instead of the planned one")
    if not asked:
        if args.note is not None:
            raise UsageError("--note goes with a decision: --submit, --approve, --request-changes or --reject")
        return None
    decision = asked[0].removeprefix("--").replace("-", "_")
    body: dict[str, Any] = {"decision": decision}
    if decision == "request_changes":
        lessons, replan = _lesson_changes(changes)
        if replan is not None:
            if args.note is not None:
                raise UsageError("a re-plan's --feedback is its note: leave --note out")
            return body | {"lessons": [], "feedback": replan}
        body["lessons"] = lessons
    if args.outline is not None:
        body["outline"] = _outline_file(args.outline)
    if args.note is not None:
        body["feedback"] = args.note
    return body


def _lesson_changes(changes: list[tuple[str, str]]) -> tuple[list[dict], str | None]:
    """--request-changes LESSON_ID --feedback TEXT pairs (the lessons), or one --request-changes
    --feedback TEXT without a lesson (a re-plan of the outline: its feedback)."""
    lessons: list[dict] = []
    replans: list[str] = []
    pending: str | None = None  # the lesson of the last --request-changes, until its --feedback
    for kind, value in changes:
        if kind == "lesson":
            if pending is not None:
                raise UsageError(f"--request-changes {pending or ''}".rstrip() + " needs --feedback TEXT after it")
            pending = value
        elif pending is None:
            raise UsageError("each --feedback follows the --request-changes it is for: "
                             "--request-changes LESSON_ID --feedback TEXT")
        else:
            if pending:
                lessons.append({"lesson_id": pending, "feedback": value})
            else:
                replans.append(value)
            pending = None
    if pending is not None:
        raise UsageError(f"--request-changes {pending or ''}".rstrip() + " needs --feedback TEXT after it")
    if replans and (lessons or len(replans) > 1):
        raise UsageError("either lessons to rewrite (--request-changes LESSON_ID --feedback TEXT, repeatable) or one "
                         "re-plan of a waiting outline (--request-changes --feedback TEXT), not both")
    return lessons, replans[0] if replans else None


def _outline_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise UsageError(f"--outline {path}: is a folder; name the outline's text file") from None
    except UnicodeDecodeError:
        raise UsageError(f"--outline {path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as error:
        raise UsageError(f"--outline {path}: cannot read it ({error.strerror or error})") from None


def _server_url(args: argparse.Namespace) -> str:
    import os
    from urllib.parse import urlsplit

    url = (args.server or os.environ.get("COURSEGEN_SERVER") or DEFAULT_SERVER).strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        source = "--server" if args.server else "COURSEGEN_SERVER" if os.environ.get("COURSEGEN_SERVER") else "server"
        raise UsageError(f"{source} {url!r}: not the http:// address of a coursegen serve (e.g. {DEFAULT_SERVER})")
    return url


def _call_serve(args: argparse.Namespace, method: str, path: str, body: dict | None,
                render: Callable[[dict, str], str]) -> int:
    """One call to `coursegen serve`: its answer rendered (or, with --json, as it came) and exit 0; a 400
    is a bad argument (exit 2); a 404, 409 or 5xx, or no serve at all, one line and exit 1."""
    import http.client
    import urllib.error
    import urllib.request

    from coursegen_local.server import TENANT_HEADER

    base = _server_url(args)
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if args.tenant:
        headers[TENANT_HEADER] = args.tenant
    request = urllib.request.Request(base + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode("utf-8"))
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT_SECONDS) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except urllib.error.URLError as error:
        return _no_serve(base, error.reason)
    except (OSError, http.client.HTTPException) as error:  # a timeout, a reset, a server that hung up
        return _no_serve(base, error)
    try:
        answer = json.loads(raw or b"null")
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        print(f"coursegen: {base} answered {status} with something that is not coursegen's API (is it a coursegen "
              "serve? see --server)", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(answer, indent=2, ensure_ascii=False))
    if 200 <= status < 300:
        if not args.json:
            print(render(answer, base))
        return 0
    message = _one_line(str(answer.get("message") or f"coursegen serve answered {status}"))
    if status == 400:
        reasons = [f"{item.get('field')}: {item.get('reason')}" for item in answer.get("errors") or []
                   if isinstance(item, dict) and f"{item.get('field')}: " not in message]
        raise UsageError(message + (f" ({'; '.join(reasons)})" if reasons else ""))
    if status == 404 and message.startswith("No course"):
        message += (f" (none of tenant {args.tenant})" if args.tenant else
                    " (none of serve's local-user, the caller without --tenant, who owns the courses POSTed to serve "
                    "without an X-Coursegen-Tenant header; courses made by 'coursegen generate' are not serve's)")
    if status == 409 and "allowed_decisions" in answer:
        message += " " + _allowed_line(answer.get("allowed_decisions") or [], args.course_id, answer.get("waiting_for"))
    print(f"coursegen: {message}", file=sys.stderr)
    return EXIT_FAILED


def _no_serve(base: str, reason: Any) -> int:
    if isinstance(reason, ConnectionRefusedError):
        print(f"coursegen: no coursegen serve at {base} (start it with: coursegen serve)", file=sys.stderr)
    else:
        print(f"coursegen: cannot reach coursegen serve at {base}: {_one_line(str(reason))} (is it running? see --server)",
              file=sys.stderr)
    return EXIT_FAILED


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _allowed_line(allowed: list[str], course_id: str, waiting_for: str | None = None) -> str:
    if not allowed:
        return "Allowed decisions now: none."
    commands = OUTLINE_DECISION_COMMANDS if waiting_for == "outline_approval" else DECISION_COMMANDS
    return "Allowed decisions now: " + ", ".join(
        f"{name} ({commands.get(name, DECISION_COMMANDS.get(name, name)).format(id=course_id)})" for name in allowed) + "."


def _render_review(view: dict, base: str) -> str:
    course_id = view.get("course_id", "")
    waiting = view.get("waiting_for")
    waits = {"review": "waiting for a reviewer's decision", "outline_approval": "waiting for its outline to be approved "
             f"(no lesson written yet; the outline: {base}/courses/{course_id})"}.get(waiting, "nothing waits")
    lines = [f"Course {course_id}: {view.get('workflow_state')}, {waits}"]
    if view.get("review_rounds"):
        lines.append(f"  changes requested {view['review_rounds']} time(s) so far")
    allowed = view.get("allowed_decisions") or []
    if allowed:
        commands = OUTLINE_DECISION_COMMANDS if waiting == "outline_approval" else DECISION_COMMANDS
        lines.append("Allowed decisions:")
        lines += [f"  {name:<16}{commands.get(name, DECISION_COMMANDS.get(name, name)).format(id=course_id)}"
                  for name in allowed]
    elif view.get("workflow_state") == "REVIEW":
        lines.append("Allowed decisions: none yet (its lessons are being rewritten, or its review is starting): "
                     f"run coursegen review {course_id} again in a moment")
    else:
        lines.append("Allowed decisions: none")
    lessons = view.get("lessons") or []
    lines.append("")
    lines.append(f"Lessons ({len(lessons)}):" if lessons else "Lessons: none written yet")
    for lesson in lessons:
        number = f"{lesson.get('part_index', 0) + 1}.{lesson.get('section_index', 0) + 1}"
        lines.append(f"  {number:<5} rev {lesson.get('revision', 1)}  {lesson.get('lesson_id')}  {lesson.get('title')}")
    transitions = view.get("transitions") or []
    lines.append("")
    lines.append(f"Transitions ({len(transitions)}):" if transitions else "Transitions: none yet (the course is a DRAFT)")
    for t in transitions:
        lines.append(f"  {t.get('at', '')}  {t.get('from_state')} -> {t.get('to_state')}  {t.get('decision')} by "
                     f"{t.get('transitioned_by')}" + (f": {t['note']}" if t.get("note") else ""))
    return "\n".join(lines)


def _render_outcome(outcome: dict, base: str) -> str:
    course_id = outcome.get("course_id", "")
    transition = outcome.get("transition") or {}
    state = outcome.get("workflow_state")
    note = transition.get("note") if transition.get("note") != str(outcome.get("decision")).replace("_", " ") else None
    lines = [f"Course {course_id}: {outcome.get('decision')}: {transition.get('from_state')} -> {transition.get('to_state')}"
             + (f" ({note})" if note else "")]
    if outcome.get("url"):
        lines.append(f"Published at {outcome['url']}")
    following = {
        "PUBLISH_READY": f"Next: coursegen publish {course_id}",
        "PUBLISHED": f"Archive it with: coursegen archive {course_id}",
        "ARCHIVED": "Unpublished; its outline, lessons, quiz and packages are kept.",
        "DRAFT": f"A DRAFT: coursegen review {course_id} --submit asks for a review again.",
    }
    if state == "REVIEW" and outcome.get("waiting_for") is None:
        lines.append(f"Now REVIEW: the lessons are being rewritten; coursegen review {course_id} shows them once the "
                     "review waits again (a rewritten lesson is a new revision with a new lesson id; the earlier one is kept).")
    elif outcome.get("waiting_for") == "review":
        lines.append(f"Now REVIEW, waiting for a decision: coursegen review {course_id}")
    elif transition.get("from_state") == transition.get("to_state") == "DRAFT" and state == "DRAFT":
        lines.append(f"The outline decision is sent: generation goes on (coursegen review {course_id} shows when "
                     "something waits again).")
    elif state in following:
        lines.append(following[state])
    return "\n".join(lines)


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
