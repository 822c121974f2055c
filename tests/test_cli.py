"""User errors end in one line on stderr and exit status 2, never a traceback."""

import subprocess
import sys

import pytest
from conftest import make_records

from seedstats.data.dataset import Dataset
from seedstats.data.records import build_tables


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "seedstats", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def assert_one_line_error(res, *fragments):
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    for frag in fragments:
        assert frag in lines[0]


@pytest.fixture
def dataset_dir(tmp_path):
    tables = build_tables(make_records())
    return Dataset(*tables, {"synthetic": False}).save(tmp_path / "ds")


def test_info_on_a_dataset(dataset_dir):
    res = run("info", "--data", dataset_dir)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"data: {dataset_dir}"
    rows = {ln.split()[0]: ln for ln in lines[1:]}
    assert {"mrpc", "rte"} <= set(rows) and "sst" not in rows
    assert "3 WI x 3 DO" in rows["rte"]


def test_missing_data_dir(tmp_path):
    assert_one_line_error(run("info", "--data", tmp_path / "nope"), "nope", "no such directory")


def test_data_dir_that_is_not_a_dataset(tmp_path):
    assert_one_line_error(run("info", "--data", tmp_path), "not a seedstats dataset")


def test_ingest_refuses_to_overwrite_a_directory_of_the_user(tmp_path, dataset_dir):
    keep = tmp_path / "mine"
    keep.mkdir()
    (keep / "notes.txt").write_text("precious")
    res = run("ingest", dataset_dir, "--out", keep)
    assert res.returncode == 2
    assert (keep / "notes.txt").read_text() == "precious"


def test_ingest_of_a_missing_source(tmp_path):
    assert_one_line_error(run("ingest", tmp_path / "x.pkl", "--out", tmp_path / "o"),
                          "x.pkl", "no such file")


def test_unknown_format(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    assert_one_line_error(run("ingest", tmp_path / "a.txt", "--out", tmp_path / "o",
                              "--format", "nope"), "--format", "nope")


def test_unknown_figure_name(tmp_path):
    res = run("figures", "fig1", "nope", "--out", tmp_path)
    assert_one_line_error(res, "unknown figure nope", "--list")
    assert not any(tmp_path.iterdir())       # checked before anything is drawn


def test_figures_without_a_name():
    assert_one_line_error(run("figures"), "--all or --list")


def test_os_errors_end_in_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run("replica", "--out", blocker / "sub")
    assert_one_line_error(res, "seedstats replica: error:")
