"""Peak memory of one generation run: `coursegen generate` in a fresh Python process (its own data
folder), which reports its own peak RSS when done. PostgreSQL runs in its own processes and is
not counted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from coursegen_local.template import PROJECT_ROOT

_GENERATE = (
    "import resource, sys; from coursegen_local.cli import main; "
    "code = main(['generate', 'Learn DCF valuation', '--hours', sys.argv[1], '--json', '--quiet']); "
    "print('peak_rss_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)"
)


def peak_rss_mb(hours: float = 2.0) -> float:
    with tempfile.TemporaryDirectory(prefix="coursegen-rss-") as home:
        env = os.environ | {"COURSEGEN_HOME": home, "DATABASE_URL": ""}
        coursegen = str(Path(sys.executable).parent / "coursegen")
        subprocess.run([coursegen, "books", "import", str(PROJECT_ROOT / "data/books/sample_library.jsonl")],
                       env=env, check=True, capture_output=True)
        done = subprocess.run([sys.executable, "-c", _GENERATE, str(hours)], env=env, check=True, capture_output=True, text=True)
    [kib] = re.findall(r"^peak_rss_kib (\d+)$", done.stderr, re.MULTILINE)  # ru_maxrss is KiB on Linux
    return int(kib) / 1024
