"""The coursegen command: what a user types, what they see, and its exit codes."""

from __future__ import annotations

import json

import pytest

from coursegen_local.cli import main


@pytest.fixture
def cli(database_url, repository, clean_courses, monkeypatch, capsys):
    """Runs `coursegen ...` against the test database (the library is imported already)."""
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["generate", "Learn DCF valuation", "--hours", "0"], "hours: Input should be greater than 0"),
        (["generate", "Learn DCF valuation", "--hours", "-2"], "hours: Input should be greater than 0"),
        (["generate", "Learn DCF valuation", "--hours", "5000"], "hours: must be between 0.25 and 100 hours"),
        (["generate", "", "--hours", "2"], "query: String should have at least 3 characters"),
        (["generate", "x" * 2000, "--hours", "2"], "query: String should have at most 500 characters"),
        (["generate", "Learn DCF valuation", "--max-concurrency", "0"], "--max-concurrency: must be a whole number between 1 and 40"),
        (["generate", "Learn DCF valuation", "--course-id", "bad/../id"], "--course-id: must be 1-80 letters, digits, - or _"),
        (["generate", "Learn DCF valuation", "--course-id", ""], "--course-id: must be 1-80 letters"),
        (["list", "--limit", "-1"], "--limit: must be a whole number between 1 and 1000, not '-1'"),
        (["list", "--limit", "0"], "--limit: must be a whole number between 1 and 1000"),
        (["list", "--limit", "9" * 20], "--limit: must be a whole number between 1 and 1000"),
        (["serve", "--port", "99999"], "--port: must be a whole number between 0 and 65535"),
        (["show", "no-such-course"], "no course with id no-such-course"),
        (["generate", "Learn DCF valuation", "--language", "fr"], "language: the offline writer (not an LLM) writes English only"),
        (["books", "import", "missing.jsonl"], "missing.jsonl: no such file"),
        (["generate", "Learn DCF valuation", "--hours", "two"], "--hours: invalid float value: 'two'"),
        (["serve", "--max-running", "0"], "--max-running: must be a whole number of at least 1"),
        (["no-such-command"], "invalid choice: 'no-such-command'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(cli, argv, reason):
    code, out, err = cli(*argv)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and reason in err


def test_generate_json_has_the_documented_fields_and_show_prints_the_same_course(cli):
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--json")
    assert code == 0, err
    course = json.loads(out)
    assert {"course_id", "status", "total_minutes", "target_minutes", "variance_percent", "reviewed", "parts"} <= set(course)
    assert course["status"] == "complete" and course["target_minutes"] == 120
    assert all({"title", "minutes", "sections"} <= set(p) for p in course["parts"])
    assert all({"title", "minutes"} <= set(s) for p in course["parts"] for s in p["sections"])
    assert "[100%] complete" in err  # live progress went to stderr, not into the JSON (a brief phase may pass between polls)

    code, shown, _ = cli("show", course["course_id"], "--json")
    assert code == 0 and json.loads(shown)["parts"] == course["parts"]
    code, text, _ = cli("show", course["course_id"])
    assert "offline planner (not an LLM)" in text and "Total:" in text and "Sources:" in text
    code, text, _ = cli("show", course["course_id"], "--lessons")
    assert code == 0 and "Lessons (" in text and "words" in text
    code, shown, _ = cli("show", course["course_id"], "--lessons", "--json")
    assert [lesson["title"] for lesson in json.loads(shown)["lessons"]] == [s["title"] for p in course["parts"] for s in p["sections"]]


def test_generate_json_returns_every_lesson_in_full_and_the_book_it_saved(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path))
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--json")
    assert code == 0, err
    course = json.loads(out)
    sections = [s["title"] for p in course["parts"] for s in p["sections"]]
    assert [lesson["title"] for lesson in course["lessons"]] == sections
    for lesson in course["lessons"]:
        assert {"lesson_id", "part_index", "title", "minutes", "words", "status", "objectives", "sources", "markdown"} <= set(lesson)
        assert lesson["status"] == "full" and lesson["objectives"] and lesson["sources"]
        assert lesson["markdown"].startswith("# ")
    assert "lessons" in err  # lesson progress on stderr
    html = (tmp_path / "books" / course["course_id"] / "course.html").read_text()
    assert course["book"]["html"].endswith("course.html") and all(lesson["title"].split(":")[0] in html for lesson in course["lessons"])
    assert (tmp_path / "books" / course["course_id"] / "course.epub").read_bytes()[:2] == b"PK"


def test_generate_prints_the_outline_total_variance_review_sources_and_id(cli):
    code, out, _ = cli("generate", "Learn DCF valuation", "--hours", "2")
    assert code == 0
    for expected in ("Part 1:", "min for a target of 120 min", "Review:", "Sources:", "course id:"):
        assert expected in out


def test_a_course_that_cannot_be_grounded_exits_1_with_the_phase_and_what_to_do(cli):
    code, out, err = cli("generate", "quantum knitting for cats", "--hours", "1", "--quiet")
    assert code == 1 and out == ""
    assert "failed in searching_books: NoBooksFound" in err and "coursegen books import" in err


def test_books_import_reports_bad_lines_by_number_and_imports_the_rest(cli, tmp_path, repository):
    library = tmp_path / "library.jsonl"
    library.write_text(
        json.dumps({"book_id": "cli-001", "title": "A CLI book", "summary": "A summary long enough to be kept."}) + "\n"
        + "not json\n"
        + json.dumps({"book_id": "cli-002", "title": "", "summary": "A summary long enough to be kept."}) + "\n"
    )
    code, out, _ = cli("books", "import", str(library))
    assert code == 0
    assert "Imported 1 book(s)" in out and "line 2: not JSON" in out and "line 3: title" in out
    with repository.pool.connection() as conn:
        conn.execute("DELETE FROM books WHERE book_id LIKE 'cli-%'")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"book_id": "cli-001", "title": "Caf\xe9"}\n', "not UTF-8 text (line 1); save it as UTF-8"),
        (b"\n  \n", "holds no books (one JSON object per line"),
    ],
)
def test_a_library_file_that_is_no_library_exits_2_and_imports_nothing(cli, tmp_path, repository, content, reason):
    library = tmp_path / "library.jsonl"
    library.write_bytes(content)
    before = repository.count_books()
    code, out, err = cli("books", "import", str(library))
    assert code == 2 and out == "" and reason in err and err.strip().count("\n") == 0
    assert repository.count_books() == before


def test_generate_with_a_named_fault_shows_how_the_workflow_copes(cli):
    code, _, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--fault", "postgres-down-at-store", "--quiet")
    assert code == 1 and "failed in storing: DatabaseUnavailable" in err
    code, out, _ = cli("generate", "Learn DCF valuation", "--hours", "2", "--fault", "llm-throttled", "--json", "--quiet")
    assert code == 0 and json.loads(out)["status"] == "complete"


def test_full_lessons_writes_the_first_n_in_full_and_the_rest_as_placeholders(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path))
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--full-lessons", "2", "--json", "--quiet")
    assert code == 0, err
    lessons = json.loads(out)["lessons"]
    assert [lesson["status"] for lesson in lessons] == ["full", "full"] + ["placeholder"] * (len(lessons) - 2)
    placeholder = lessons[-1]
    assert "Placeholder" in placeholder["markdown"] and "## Objectives" in placeholder["markdown"]
    assert placeholder["objectives"] and placeholder["sources"]


def test_dry_run_prints_the_outline_and_an_estimate_and_writes_no_lesson(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path))
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--dry-run", "--quiet")
    assert code == 0, err
    assert "Part 1:" in out and "Dry run: no lesson written" in out and "tokens" in out and "Lessons (" not in out
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--dry-run", "--json", "--quiet")
    course = json.loads(out)
    assert course["lessons"] == [] and course["book"] == {}
    assert course["estimate"]["lessons_planned"] == sum(len(p["sections"]) for p in course["parts"])
    assert not (tmp_path / "books").exists()


def test_export_writes_the_saved_book_in_the_format_asked_for(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path / "home"))
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--json", "--quiet")
    course_id = json.loads(out)["course_id"]
    for fmt in ("md", "html", "epub"):
        target = tmp_path / f"book.{fmt}"
        code, out, err = cli("export", course_id, "--format", fmt, "--out", str(target))
        assert code == 0, err
        assert target.read_bytes() == (tmp_path / "home" / "books" / course_id / f"course.{fmt}").read_bytes()
    assert (tmp_path / "book.epub").read_bytes()[:2] == b"PK" and (tmp_path / "book.html").read_text().startswith("<!DOCTYPE")
    code, out, err = cli("export", course_id, "--out", str(tmp_path / "missing" / "x.html"))
    assert code == 2 and "no such folder" in err
    code, out, err = cli("export", "no-such-course")
    assert code == 2 and "no course with id no-such-course" in err


def test_the_saved_and_exported_markdown_book_has_the_figures_it_names(cli, tmp_path, monkeypatch):
    import re

    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path / "home"))
    code, out, err = cli("generate", "Learn accrual accounting and revenue recognition", "--hours", "1", "--json", "--quiet")
    assert code == 0, err
    course_id = json.loads(out)["course_id"]
    saved = tmp_path / "home" / "books" / course_id
    named = re.findall(r"\]\((figures/[^)]+\.svg)\)", (saved / "course.md").read_text())
    assert named, "the offline planner draws the accounting course's five-step model"
    assert all((saved / name).read_text().lstrip().startswith("<svg") for name in named)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    assert cli("export", course_id, "--format", "md", "--out", str(out_dir / "book.md"))[0] == 0
    assert all((out_dir / name).is_file() for name in named)


def test_a_course_generated_again_under_its_id_keeps_only_what_the_new_run_wrote(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEGEN_HOME", str(tmp_path))
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--content", "theory_and_labs", "--json", "--quiet")
    first = json.loads(out)
    assert first["labs"]
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--course-id", first["course_id"], "--json", "--quiet")
    again = json.loads(out)
    assert code == 0 and again["course_id"] == first["course_id"] and again["labs"] == []
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--course-id", first["course_id"], "--dry-run",
                         "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["lessons"] == [] and json.loads(out)["estimate"]["lessons_planned"] > 0
