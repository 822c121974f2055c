"""The public surface: pinned names, light import, nothing global changed."""

import subprocess
import sys

import seedstats


def test_public_api_is_pinned():
    assert dir(seedstats) == sorted(
        ["Dataset", "TASKS", "__version__", "budget_search", "compare", "expected_best",
         "expected_max", "expected_max_curve", "ingest", "load", "merge", "plan", "report"])
    for name in seedstats.__all__:
        assert getattr(seedstats, name) is not None


def test_import_is_light_and_changes_nothing_global():
    code = ("import sys, seedstats; heavy = [m for m in ('pandas', 'scipy', 'matplotlib', "
            "'torch', 'statsmodels') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "seedstats", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    for verb in ("ingest", "info", "replica", "tables", "figures", "earlystop", "finetune"):
        assert verb in out.stdout
