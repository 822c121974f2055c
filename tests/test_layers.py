"""The layout's rules, read off the import statements of every module (README, "Layout").

data -> stats / earlystop -> plots -> figures -> cli, with the data core below its formats and
the replica; the faces of ``seedstats.data`` and ``seedstats.stats`` are pinned.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import seedstats

ROOT = Path(seedstats.__file__).parent
CORE = {"seedstats.data.schema", "seedstats.data.records", "seedstats.data.dataset",
        "seedstats.data.store", "seedstats.data.info", "seedstats.data.digitized"}
FORMATS = "seedstats.data.formats"
FORMAT_SHARED = {f"{FORMATS}.base", f"{FORMATS}.sweeps"}
# heavy or optional: imported inside functions, where they are needed
LAZY = {"torch", "transformers", "tensorboard", "ray", "mlflow", "wandb", "optuna", "duckdb",
        "matplotlib", "seaborn", "scipy", "statsmodels", "pyarrow", "yaml", "google"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(mod: str):
    """(target module, imported names, at module level) for every ``seedstats`` import."""
    tree = ast.parse(MODULES[mod].read_text())
    top = {id(n) for n in tree.body}
    # a module-level `try: import x / except ImportError` (a platform's optional module)
    # is at module level too
    for n in tree.body:
        if isinstance(n, ast.Try):
            top |= {id(m) for part in (n.body, *[h.body for h in n.handlers]) for m in part}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            for a in node.names:
                # `from pkg import submodule` depends on the submodule, not on the package face
                target = f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                yield target, a.name, id(node) in top
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, None, id(node) in top


def _seedstats_imports(mod):
    return [(t, n, top) for t, n, top in _imports(mod) if t.split(".")[0] == "seedstats"]


def _package(mod: str) -> str:
    parts = mod.split(".")
    return ".".join(parts[:2])


def test_every_module_is_seen():
    assert {"seedstats.data.ingest", "seedstats.data.formats.base", "seedstats.cli",
            "seedstats.data.replica.model", "seedstats.figures.tables"} <= set(MODULES)
    # the checks below are not vacuous: the graph has edges
    assert sum(len(_seedstats_imports(m)) for m in MODULES) > 150


def test_the_data_core_imports_no_format_replica_or_ingest():
    for mod in CORE:
        for target, _, _ in _seedstats_imports(mod):
            assert target in CORE or target in ("seedstats.errors", "seedstats.data"), (
                f"{mod} imports {target}")


def test_a_format_imports_only_the_core_and_the_shared_format_modules():
    formats = [m for m in MODULES if m.startswith(FORMATS + ".")]
    assert len(formats) >= 11
    for mod in formats:
        allowed = CORE | FORMAT_SHARED | {"seedstats.errors"}
        for target, _, _ in _seedstats_imports(mod):
            assert target in allowed, f"{mod} imports {target}"
        if mod in FORMAT_SHARED:  # the shared modules use no single format
            assert all(t in CORE | FORMAT_SHARED | {"seedstats.errors"}
                       for t, _, _ in _seedstats_imports(mod))


def test_only_ingest_names_every_format():
    from seedstats.data.ingest import FORMATS as NAMED

    readers = {m for m in MODULES if m.startswith(FORMATS + ".")} - FORMAT_SHARED
    assert set(NAMED.values()) == readers
    for mod in MODULES:
        if mod == "seedstats.data.ingest" or mod.startswith(FORMATS):
            continue
        used = {t for t, _, _ in _seedstats_imports(mod) if t in readers}
        assert len(used) <= 2, f"{mod} imports the formats {sorted(used)}"


def test_no_private_name_crosses_a_package():
    for mod in MODULES:
        for target, name, _ in _seedstats_imports(mod):
            if _package(target) == _package(mod):
                continue
            assert not any(p.startswith("_") for p in target.split(".")), f"{mod}: {target}"
            private = name is not None and name.startswith("_") and not name.endswith("__")
            assert not private, f"{mod}: {target}.{name}"


def test_packages_flow_one_way():
    # package -> packages it may not import (data -> stats, earlystop -> plots -> figures -> cli)
    forbidden = {
        "seedstats.data": {"seedstats.stats", "seedstats.earlystop", "seedstats.plots",
                           "seedstats.figures", "seedstats.cli", "seedstats.finetune"},
        "seedstats.stats": {"seedstats.earlystop", "seedstats.plots", "seedstats.figures",
                            "seedstats.cli", "seedstats.finetune"},
        "seedstats.earlystop": {"seedstats.plots", "seedstats.figures", "seedstats.cli",
                                "seedstats.finetune"},
        "seedstats.plots": {"seedstats.data", "seedstats.stats", "seedstats.earlystop",
                            "seedstats.figures", "seedstats.cli", "seedstats.finetune"},
        "seedstats.figures": {"seedstats.cli", "seedstats.finetune"},
        "seedstats.finetune": {"seedstats.stats", "seedstats.earlystop", "seedstats.plots",
                               "seedstats.figures", "seedstats.cli"},
    }
    for mod in MODULES:
        bad = forbidden.get(_package(mod), set())
        for target, _, _ in _seedstats_imports(mod):
            assert _package(target) not in bad, f"{mod} imports {target}"


def test_library_packages_import_no_argparse():
    for mod in MODULES:
        if mod.startswith("seedstats.cli"):
            continue
        assert "argparse" not in {t for t, _, _ in _imports(mod)}, mod


def test_no_import_circle():
    graph = {m: {t for t, _, _ in _seedstats_imports(m) if t in MODULES and t != m}
             for m in MODULES}
    state = {}

    def visit(m, path):
        state[m] = "open"
        for t in sorted(graph[m]):
            if state.get(t) == "open":
                pytest.fail("import circle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t, path + [t])
        state[m] = "done"

    for m in sorted(MODULES):
        if m not in state:
            visit(m, [m])


def test_imports_are_at_module_level_unless_heavy_or_optional():
    # the command line imports the library when a command runs (pandas, matplotlib, torch
    # behind it), so that parsing stays fast; everything else imports at module level
    for mod in MODULES:
        for target, name, top in _imports(mod):
            if top or target.split(".")[0] in LAZY:
                continue
            assert mod.startswith("seedstats.cli") and target.startswith("seedstats."), (
                f"{mod} imports {target} inside a function")


def test_the_command_line_parses_without_the_heavy_libraries():
    import subprocess
    import sys

    code = ("import sys; from seedstats.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('pandas', 'numpy', 'matplotlib', 'scipy', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_the_faces_are_pinned():
    data = importlib.import_module("seedstats.data")
    stats = importlib.import_module("seedstats.stats")
    assert sorted(data.__all__) == sorted([
        "load", "ingest", "export", "Dataset", "TASKS", "EMBEDDED", "FORMATS", "EXPORT_FORMATS",
        "IngestOptions", "IngestReport", "ReadResult", "detect_format", "Curve", "TrialRecord",
        "build_tables", "SCORES", "score_column", "score_grid", "eval_matrix", "summarize",
        "TaskInfo", "task_info", "trial_id", "merge"])
    assert sorted(stats.__all__) == sorted([
        "expected_max", "expected_max_curve", "SCENARIOS", "scenario_evaluations",
        "scenario_scores", "expected_max_scenarios", "FACTORS", "per_seed_sd",
        "seed_sd_summary", "variance_components", "best_worst_anova", "seed_permutation_test",
        "wi_ranks", "global_seeds", "CORRELATION_METHODS", "best_so_far",
        "checkpoint_correlations", "failure_threshold", "failure_rates", "early_detection",
        "table1", "table2", "table3", "table4", "TABLES", "compute_tables", "seed_effects",
        "nan_means", "expected_best", "compare", "plan", "precision", "design",
        "mean_difference", "bootstrap_difference", "hedges_g", "prob_better", "violation_ratio",
        "aso"])
    for face in (data, stats):
        for name in face.__all__:
            assert hasattr(face, name), f"{face.__name__}.{name}"


def test_every_module_declares_its_api():
    for mod, path in MODULES.items():
        if path.name in ("__init__.py", "__main__.py"):
            continue
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                     for t in n.targets)
                   for n in tree.body), f"{mod} has no __all__"
