"""Every benchmark still runs: each script in ``benchmarks/`` is started in tiny mode
(``XUESHI_BENCH_TINY=1``, smallest inputs, see ``benchmarks/tiny.py``) and must exit 0 and print
its table. The figures are not judged: a benchmark that no longer starts fails here instead of
going unnoticed until someone needs its numbers.

Marker ``bench``: CI runs these once, in the PostgreSQL + Redis run (several benchmarks compare
both databases and serve through ``wrk``, which CI installs).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
TIMEOUT = 600  # seconds; a tiny run takes well under a minute on an idle machine

# script, its tiny arguments, a fragment of the table it prints, whether it needs wrk
RUNS = [
    ("bench_roster_import.py", ["50"], "re-import, nothing changes", False),
    ("bench_bank_import.py", [], "upload to imported", False),
    ("bench_web.py", ["3"], "x bare p50", False),
    ("bench_certificates.py", ["2"], "certificates/s", False),
    ("bench_hostile_uploads.py", ["3", "1"], "during hostile uploads", False),
    ("bench_exam.py", ["1", "2"], "vs bare", True),
    ("bench_heartbeat.py", ["1", "2"], "vs bare", True),
    ("bench_processes.py", ["--seconds", "1", "--connections", "2"], "ratio", True),
    ("bench_snapshots.py", ["--frames", "2", "--burst", "2"], "verdicts/s", False),
    ("bench_faces.py", [], "FaceLandmarker", False),
    ("bench_matchers.py", [], "sface", False),
    ("bench_dashboards.py", ["2"], "vs bare p95", False),
    ("load_learners.py", ["--quick"], "knee, studying", False),
]

pytestmark = pytest.mark.bench


def test_every_benchmark_is_listed():
    scripts = {p.name for p in BENCHMARKS.glob("bench_*.py")} | {"load_learners.py"}
    listed = {script for script, *_ in RUNS}
    assert scripts == listed, f"benchmarks without a tiny run here: {sorted(scripts - listed)}"


@pytest.mark.parametrize(("script", "args", "printed", "needs_wrk"), RUNS, ids=[r[0] for r in RUNS])
def test_benchmark_runs_in_tiny_mode(script, args, printed, needs_wrk, tmp_path):
    if needs_wrk and shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing: .ci/run installs it")
        pytest.skip("wrk is not installed (apt-get install wrk)")
    env = {**os.environ, "XUESHI_BENCH_TINY": "1", "TMPDIR": str(tmp_path)}
    for name in ("XUESHI_TEST_DATABASE_URL", "DATABASE_URL", "XUESHI_VAR_DIR"):
        env.pop(name, None)
    # Output to files, not pipes: a worker pool a benchmark leaves behind keeps a pipe open after
    # the script exits. Its own process group: whatever it started is ended with it.
    out_file, err_file = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    with out_file.open("w") as stdout, err_file.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, str(BENCHMARKS / script), *args], cwd=ROOT, env=env,
                                stdout=stdout, stderr=stderr, start_new_session=True)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{script} did not finish within {TIMEOUT} s:\n{out_file.read_text()[-2000:]}")
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    out, err = out_file.read_text(), err_file.read_text()
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{err[-3000:]}"
    assert printed in out, f"{script} did not print its table:\n{out[-3000:]}"
    SANE.get(script, lambda out: None)(out)
    print(out)


def whole_learners_are_sane(out: str) -> None:
    """The load test's tiny run: the whole learner passed the face check and took the exam, every
    step of both phases answered without an error, and the CPU and Redis figures are there."""
    assert "'face check passed': 1" in out, out[-3000:]
    steps = re.findall(r"^  (whole|N=\d+)\s+(.+?)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", out, re.M)
    named = {step for _, step, *_ in steps}
    wanted = {"sign-in", "face frame", "face finish", "session start", "beat", "exam answer", "exam submit"}
    assert wanted <= named, steps
    assert all(errors == "0" for *_, errors, _, _ in steps), steps
    assert all(float(p50) <= float(p95) for *_, p50, p95 in steps), steps
    cpu = re.findall(r"^  N=\d+ +([\d.]+)(?: +[\d.]+){5}$", out, re.M)  # web … client, platform
    assert len(cpu) == 2 and all(float(web) > 0 for web in cpu), out[-3000:]
    assert "xueshi:live:" in out, out[-3000:]


SANE = {"load_learners.py": whole_learners_are_sane}
