"""``seedstats report``: valid, self-contained HTML; rendered by a real browser (Chromium,
installed by ``.ci/run``); the reporting paragraph's numbers equal the tables'."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from test_compare import _records

import seedstats
from seedstats.data.dataset import Dataset
from seedstats.data.records import build_tables
from seedstats.figures.report import SECTIONS, paragraph_numbers, report, reporting_paragraph
from seedstats.stats.compare import compare


@pytest.fixture(scope="module")
def two_systems():
    rng = np.random.default_rng(11)
    base = rng.normal(0.70, 0.03, 25)
    recs = _records("base", base) + _records("new", base + 0.02 + rng.normal(0, 0.01, 25))
    return Dataset(*build_tables(recs), {"synthetic": False})


@pytest.fixture(scope="module")
def pages(tmp_path_factory, two_systems):
    out = tmp_path_factory.mktemp("report")
    made = {}
    for name, ds in (("replica", seedstats.load()), ("dodge2020", seedstats.load("dodge2020")),
                     ("sweep", two_systems)):
        path = out / f"{name}.html"
        made[name] = (path, report(ds, path, n_perm=500))
    return made


def _parse(text):
    html5lib = pytest.importorskip("html5lib")
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    return parser.parse(text)  # raises on any parse error


@pytest.mark.parametrize("name", ["replica", "dodge2020", "sweep"])
def test_the_page_is_valid_html_and_self_contained(pages, name):
    path, text = pages[name]
    assert path.read_text(encoding="utf-8") == text
    doc = _parse(text)
    assert "http" not in text.lower() and "<script" not in text.lower()
    imgs = doc.findall(".//img")
    assert imgs and all(i.get("src").startswith("data:image/png;base64,") for i in imgs)
    ids = [s.get("id") for s in doc.findall(".//section")]
    assert ids == list(SECTIONS)


def test_sections_say_why_they_are_not_available(pages):
    _, real = pages["dodge2020"]
    assert re.search(r'<section id="earlystop">.*?Not available: the data has no validation '
                     r"curves", real)
    assert re.search(r'<section id="compare">.*?Not available: the dataset holds one system',
                     real)
    _, sweep = pages["sweep"]
    assert "Not available" not in sweep.split('id="compare"')[1].split("</section>")[0]


def test_the_same_data_give_the_same_page(two_systems):
    assert report(two_systems, n_perm=200) == report(two_systems, n_perm=200)


def _numbers(text):
    return [float(x) for x in re.findall(r"-?\d+\.\d+|-?\d+", text)]


@pytest.mark.parametrize("source", ["replica", "dodge2020"])
def test_the_paragraph_has_the_tables_numbers(source):
    ds = seedstats.load(source)
    text = reporting_paragraph(ds)
    assert "the weight-initialization seed (WI, 25 values) and the data-order seed (DO, 25 " \
           "values), crossed" in text
    for task in ds.tasks:
        x = ds.trials.query("task == @task")["score"].to_numpy()
        scale = 100  # scores in [0, 1] are written as points
        want = (f"{len(x)} runs, mean {x.mean() * scale:.1f}, SD {x.std(ddof=1) * scale:.1f}, "
                f"SE {x.std(ddof=1) / np.sqrt(len(x)) * scale:.1f} (x100)")
        assert want in text, want


def test_the_paragraph_of_two_systems_has_the_comparisons_numbers(two_systems):
    df = compare(two_systems)
    text = reporting_paragraph(two_systems, compare_df=df)
    r = df[(df["a"] == "base") & (df["b"] == "new")].iloc[0]
    want = (f"new minus base {r['diff'] * 100:.1f} [{r['diff_low'] * 100:.1f}, "
            f"{r['diff_high'] * 100:.1f}], adjusted p = {r['p_adjusted']:.3g}, decided")
    assert want in text
    assert f"ahead from a budget of {int(r['crossing_budget'])} runs" in text
    assert "Holm over 1 tests" in text and "paired t" in text
    nums = paragraph_numbers(two_systems, compare_df=df)["runs"]
    assert nums["n"].tolist() == [25, 25]


# --- a real browser -----------------------------------------------------------------------------

BROWSER = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)


@pytest.mark.skipif(BROWSER is None, reason="no Chromium installed (.ci/run installs Debian's "
                                            "chromium; apt-get install chromium)")
@pytest.mark.parametrize("name", ["replica", "sweep"])
def test_a_real_browser_renders_the_page(pages, name, tmp_path):
    from PIL import Image

    path, _ = pages[name]
    shot = tmp_path / f"{name}.png"
    base = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    subprocess.run([*base, "--window-size=1000,6000", f"--screenshot={shot}",
                    path.as_uri()], capture_output=True, timeout=120, check=True)
    dom = subprocess.run([*base, "--dump-dom", path.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for sid in SECTIONS:
        assert f'<section id="{sid}">' in dom
    img = np.asarray(Image.open(shot).convert("L"))
    ink = img < 245
    assert ink.mean() > 0.03                      # not blank
    rows = np.flatnonzero(ink.any(axis=1))
    assert rows[-1] > 3000                        # the page is long: every section drew
    if "--keep" in sys.argv:  # pragma: no cover - for looking at the screenshots by hand
        shutil.copy(shot, path.with_suffix(".png"))


def test_compare_and_plan_results_show_in_jupyter_as_in_the_report(two_systems):
    import pandas as pd

    from seedstats.stats.plan import plan

    cmp = compare(two_systems)
    frag = cmp._repr_html_()
    _parse(f"<!DOCTYPE html><html><head><title>t</title></head><body>{frag}</body></html>")
    import html

    once = cmp[cmp["a"] < cmp["b"]]["verdict"]
    assert frag.count("<li>") == len(cmp) // 2 and all(html.escape(v) in frag for v in once)
    assert type(cmp[cmp["a"] < cmp["b"]]) is pd.DataFrame  # operations give plain frames
    page = report(two_systems, n_perm=200)
    section = page.split('<section id="compare">')[1].split("</section>")[0]
    one = cmp[cmp["a"] < cmp["b"]]
    assert type(cmp)(one).to_html_fragment() in section  # the report's rendering is Jupyter's
    p = plan(two_systems, effect=0.02, n_sim=200)
    frag = p._repr_html_()
    assert "seeds per system to detect 0.02" in frag and "<table" in frag
