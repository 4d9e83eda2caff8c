"""Every state machine file passes a second ASL validator besides moto's parser: the npm package
asl-validator (pinned here; npx fetches it from the npm registry on first use)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from coursegen_local.template import PROJECT_ROOT

ASL_VALIDATOR = "asl-validator@4.0.0"
MACHINES = sorted((PROJECT_ROOT / "statemachine").glob("*.asl.json"))


def validate(path: Path) -> subprocess.CompletedProcess:
    npx = shutil.which("npx")
    if npx is None:
        pytest.fail("npx (Node.js 20+) is needed to run asl-validator: install Node.js (Debian: apt-get install nodejs npm)")
    return subprocess.run([npx, "--yes", ASL_VALIDATOR, "--json-path", str(path)],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)


def test_there_is_a_state_machine_to_validate():
    assert MACHINES


@pytest.mark.parametrize("path", MACHINES, ids=lambda p: p.name)
def test_the_state_machine_is_valid_asl(path):
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_validator_rejects_a_broken_machine(tmp_path):
    machine = json.loads(MACHINES[0].read_text())
    first = machine["StartAt"]
    machine["States"][first].pop("Choices", None)  # a Choice without choices ...
    machine["States"][first]["Next"] = "NoSuchState"  # ... and a transition to nowhere
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(machine))
    assert validate(broken).returncode != 0
