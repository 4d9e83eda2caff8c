"""The load script, at CI size: courses started at once against a real `coursegen serve`
subprocess all finish, none lost, each readable. (`make load` runs it with 50.)"""

import re

from coursegen_local.load import run


def test_ten_courses_at_once_all_finish_and_none_is_lost(capsys):
    assert run(courses=10, first_token=0.05, per_token=0.0005, timeout=180) == 0
    report = capsys.readouterr().out
    assert "none lost" in report
    assert re.search(r"complete and readable with GET /courses/\{id\}\s+10\n", report)
