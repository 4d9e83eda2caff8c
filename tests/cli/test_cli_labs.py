"""`coursegen generate --content theory_and_labs`: one lab per part in --json and in the summary;
`coursegen show ID --labs`."""

from __future__ import annotations

import json

from tests.cli.test_cli import cli  # noqa: F401 - the fixture


def test_generate_json_with_labs_returns_one_lab_per_part_and_show_labs_prints_them(cli):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "2", "--content", "theory_and_labs", "--json", "--quiet")
    assert code == 0, err
    course = json.loads(out)
    labs = course["labs"]
    assert [lab["part_index"] for lab in labs] == list(range(len(course["parts"])))
    assert [lab["title"] for lab in labs] == [part["title"] for part in course["parts"]]
    lesson_objectives = {o for lesson in course["lessons"] for o in lesson["objectives"]}
    for lab in labs:
        assert {"lab_id", "part_index", "title", "status", "objectives", "sources", "markdown"} <= set(lab)
        assert lab["status"] == "full" and lab["sources"] and set(lab["objectives"]) <= lesson_objectives
        assert lab["markdown"].startswith(f"# Lab {lab['part_index'] + 1}: ") and "## Solution" in lab["markdown"]

    code, text, _ = cli("show", course["course_id"], "--labs")
    assert code == 0 and f"Labs ({len(labs)}, one per part):" in text and f"Lab {len(labs)}  {labs[-1]['title']}" in text
    code, shown, _ = cli("show", course["course_id"], "--labs", "--json")
    assert json.loads(shown)["labs"] == labs
    code, shown, _ = cli("show", course["course_id"], "--json")
    assert "labs" not in json.loads(shown)  # only when asked for


def test_generate_prints_the_labs_after_the_lessons(cli):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--content", "theory_and_labs", "--quiet")
    assert code == 0, err
    assert out.index("Lessons (") < out.index("Labs (") < out.index("Run: ")
    assert "Lab 1  " in out and "practises" in out


def test_a_theory_course_has_no_labs(cli):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--hours", "1", "--json", "--quiet")
    assert code == 0, err
    assert json.loads(out)["labs"] == []


def test_a_content_mode_that_is_not_one_of_the_two_exits_2_with_one_line(cli):  # noqa: F811
    code, out, err = cli("generate", "Learn DCF valuation", "--content", "labs_only")
    assert code == 2 and out == "" and err.strip().count("\n") == 0
    assert "--content: invalid choice: 'labs_only'" in err
