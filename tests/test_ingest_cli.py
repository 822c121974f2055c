"""`seedstats ingest` end to end, as a user runs it (subprocess): happy paths and bad input."""

import pickle
import subprocess
import sys

import pytest
from test_release import assert_same_tables, make_dataset

from seedstats.cli import main
from seedstats.data.embedded import load
from seedstats.data.formats import jsonl, rawlog, release


def run(*args):
    return subprocess.run([sys.executable, "-m", "seedstats", *map(str, args)],
                          capture_output=True, text=True)


def one_line_error(res):
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("seedstats ingest: error: ")
    return lines[0]


@pytest.fixture(scope="module")
def ds():
    return make_dataset()


@pytest.fixture(scope="module")
def sources(tmp_path_factory, ds):
    root = tmp_path_factory.mktemp("src")
    release.write_release(ds, root / "rel.pkl", nested_none=True)
    rawlog.write_rawlogs(ds, root / "raw")
    jsonl.write_jsonl(ds, root / "logs")
    return root


def check_ingest(out, stdout, src, fmt, ds):
    lines = stdout.splitlines()
    assert lines[-1] == f"wrote {out}"
    assert any(ln.split()[:4] == ["mrpc", "9", "288", "450"] for ln in lines), stdout
    assert ("total: 18 trials, 426 evaluations, 870 loss steps; 1 incomplete, 3 flagged, "
            "0 files skipped") in stdout
    got = load(out)
    assert got.meta["provenance"] == {"source": str(src), "format": fmt}
    assert_same_tables(ds, got)


def test_ingest_raw_logs_as_a_user_runs_it(tmp_path, sources, ds):
    res = run("ingest", sources / "raw", "--out", tmp_path / "ds")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    check_ingest(tmp_path / "ds", res.stdout, sources / "raw", "rawlog", ds)


@pytest.mark.parametrize("src, fmt", [("rel.pkl", "release"), ("logs", "jsonl")])
def test_ingest_the_other_formats(tmp_path, sources, ds, capsys, src, fmt):
    # in-process (the subprocess path is the same code; it is exercised above and below)
    assert main(["ingest", str(sources / src), "--out", str(tmp_path / "ds")]) == 0
    check_ingest(tmp_path / "ds", capsys.readouterr().out, sources / src, fmt, ds)


def _bad_raw(root, sources):
    d = root / "raw"
    d.mkdir()
    for f in sorted((sources / "raw").iterdir())[:3]:
        (d / f.name).write_bytes(f.read_bytes())
    bad = d / "mrpc_wi1_do2.txt"
    lines = bad.read_text().splitlines()
    lines[lines.index("validation acc throughout training:") + 1] = "[[0, 0.5], [1, oops]]"
    bad.write_text("\n".join(lines) + "\n")
    return d, [f"{bad}:", "expected a list of [step, value] pairs"]


def _bad_jsonl(root, sources):
    d = root / "logs"
    d.mkdir()
    for f in sorted((sources / "logs").iterdir())[:2]:
        (d / f.name).write_bytes(f.read_bytes())
    bad = d / "mrpc-wi1-do2.jsonl"
    lines = bad.read_text().splitlines()
    lines[6] = lines[6][:-1]
    bad.write_text("\n".join(lines) + "\n")
    return d, [f"{bad}:7: expected one JSON object per line"]


def _malicious(root, sources):
    marker = root / "pwned"
    p = root / "rel.pkl"
    p.write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
    return p, [f"{p}: refused to unpickle global 'os.system'"]


def _bad_structure(root, sources):
    p = root / "rel.pkl"
    data = {"rte": {3: {7: {"acc": {"before": 0.5, "during": [[0, 0.5], [12]]}}}}}
    p.write_bytes(pickle.dumps(data))
    return p, [f"{p}: data['rte'][3][7]['acc']['during'][1]: expected [step, value] pair"]


def _truncated_pickle(root, sources):
    p = root / "rel.pkl"
    p.write_bytes((sources / "rel.pkl").read_bytes()[:1000])
    return p, [f"{p}: expected a pickle"]


def _duplicate(root, sources):
    d, _ = _bad_raw(root, sources)
    good = sorted(d.iterdir())[0]
    (d / "zz_copy.txt").write_bytes(good.read_bytes())
    (d / "mrpc_wi1_do2.txt").unlink()
    return d, ["duplicate trial mrpc-wi1-do1", str(good), str(d / "zz_copy.txt")]


@pytest.mark.parametrize("make", [_bad_raw, _bad_jsonl, _malicious, _bad_structure,
                                  _truncated_pickle, _duplicate])
def test_bad_input_is_one_line_naming_file_and_place(tmp_path, sources, make):
    src, fragments = make(tmp_path, sources)
    res = run("ingest", src, "--out", tmp_path / "out")
    msg = one_line_error(res)
    for frag in fragments:
        assert frag in msg, msg
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "pwned").exists()


def test_skip_bad_ingests_the_rest_and_lists_the_bad_files(tmp_path, sources):
    src, _ = _bad_raw(tmp_path, sources)
    res = run("ingest", src, "--out", tmp_path / "out", "--skip-bad")
    assert res.returncode == 0, res.stderr
    assert "total: 2 trials" in res.stdout and "1 files skipped" in res.stdout
    assert f"skipped {src / 'mrpc_wi1_do2.txt'}: {src / 'mrpc_wi1_do2.txt'}:" in res.stdout
    assert len(load(tmp_path / "out").trials) == 2


def test_a_nan_baseline_is_one_line_naming_the_option(tmp_path, sources):
    res = run("ingest", sources / "raw", "--out", tmp_path / "out", "--baseline", "nan")
    assert one_line_error(res) == ("seedstats ingest: error: option baseline (--baseline): "
                                   "expected a finite number or None, got nan")
    assert not (tmp_path / "out").exists()


def test_special_files_are_never_read_and_are_named(tmp_path, capsys):
    import os
    import signal

    from seedstats.cli import main
    from seedstats.data import export
    from test_release import make_dataset

    src = export(make_dataset(), tmp_path / "logs", format="rawlog")
    # a FIFO and a symlink to /dev/zero named like inputs: reading either would never end
    os.mkfifo(src / "wi9_do9.jsonl")
    (src / "zero.jsonl").symlink_to("/dev/zero")
    (tmp_path / "elsewhere").mkdir()
    (src / "linked").symlink_to(tmp_path / "elsewhere")
    signal.alarm(60)  # a hang fails the test instead of the suite
    try:
        rc = main(["ingest", str(src), "--out", str(tmp_path / "ds")])
    finally:
        signal.alarm(0)
    out = capsys.readouterr()
    assert rc == 0, out.err
    (line,) = [x for x in out.out.splitlines() if "not read:" in x]
    assert "not read: 3 entries that are neither regular files nor real directories" in line
    assert "(a FIFO)" in line and "(a device)" in line
    assert "linked (a symlinked directory)" in line
    os.mkfifo(tmp_path / "pipe.pkl")
    assert main(["ingest", str(tmp_path / "pipe.pkl"), "--out", str(tmp_path / "d2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"seedstats ingest: error: SRC {tmp_path / 'pipe.pkl'}: is a FIFO; "
                   "expected a regular file or a directory"]
