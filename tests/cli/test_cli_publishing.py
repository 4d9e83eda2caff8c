"""The issue's "done when": `generate --deploy-staging --json` returns the quiz, the landing page,
the staging URL and the evidence pack; --no-quiz and --no-landing-page turn them off; `export`
writes the packages; `events` lists what the course published."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path

from tests.cli.test_cli import cli  # noqa: F401 - the fixture


def test_generate_deploy_staging_json_returns_quiz_landing_page_staging_url_and_evidence_pack(cli, tmp_path):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--deploy-staging", "--price", "49", "--json", "--quiet")
    assert code == 0, err
    course = json.loads(out)
    course_id = course["course_id"]
    quiz = course["quiz"]
    assert str(uuid.UUID(quiz["quiz_id"])) == quiz["quiz_id"] and 10 <= len(quiz["questions"]) <= 15
    for question in quiz["questions"]:
        assert {"question_id", "kind", "stem", "options", "correct_index", "explanation", "lesson_id", "objective_id"} <= set(question)
        assert 0 <= question["correct_index"] < len(question["options"])
    landing = Path(course["landing_page"]["path"])
    assert landing.is_file() and "49" in landing.read_text() and course["landing_page"]["landing_page_id"]
    assert course["staging_url"].endswith(f"/staging/{course_id}/index.html")
    assert Path(course["evidence_pack"]["file"]).is_file()
    assert json.loads(Path(course["evidence_pack"]["file"]).read_text())["course_id"] == course_id
    assert set(course["exports"]) == {"scorm", "qti", "gift"}

    code, text, err = cli("export", course_id, "--format", "scorm", "--out", str(tmp_path / "course.zip"))
    assert code == 0, err
    assert "imsmanifest.xml" in zipfile.ZipFile(io.BytesIO((tmp_path / "course.zip").read_bytes())).namelist()
    code, text, err = cli("export", course_id, "--format", "gift", "--out", str(tmp_path / "quiz.gift"))
    assert code == 0 and (tmp_path / "quiz.gift").read_text().count("::") >= 2 * len(quiz["questions"])

    code, listed, err = cli("events", course_id)
    assert code == 0, err
    kinds = [line.split()[1] for line in listed.splitlines()]
    for kind in ("course.generation.requested", "course.outline.created", "course.lesson.generated", "course.quiz.created",
                 "course.landing_page.created", "course.deployed.staging", "course.generation.completed"):
        assert kind in kinds, kind
    code, as_json, _ = cli("events", course_id, "--json")
    assert {event["detail-type"] for event in json.loads(as_json)} == set(kinds)


def test_no_quiz_and_no_landing_page_turn_them_off_and_qti_export_says_why(cli, tmp_path):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--no-quiz", "--no-landing-page", "--json", "--quiet")
    assert code == 0, err
    course = json.loads(out)
    assert course["quiz"] is None and course["landing_page"] is None and course["staging_url"] is None
    assert set(course["exports"]) == {"scorm"}
    code, _, err = cli("export", course["course_id"], "--format", "qti", "--out", str(tmp_path / "q.zip"))
    assert code == 2 and "no quiz" in err and err.strip().count("\n") == 0


def test_a_bad_price_exits_2_with_one_line(cli):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--price", "cheap")
    assert code == 2 and out == "" and "--price" in err and err.strip().count("\n") == 0
    code, out, err = cli("generate", "Learn DCF valuation", "--price", "10", "--currency", "euro")
    assert code == 2 and "currency" in err


def test_events_of_an_unknown_course_exit_2_saying_where_events_come_from(cli):  # noqa: F811
    code, _, err = cli("events", "no-such-course")
    assert code == 2 and "no events" in err
