"""The HTML report of ``analyze`` (constellations.analysis.report, ``analyze --report``): one self-contained
page whose numbers are the brute-force values, rendered in a real headless Chromium (skipped without one,
unless CONSTELLATIONS_REQUIRE_BROWSER=1, which .ci/run sets where it installed Chromium)."""
import base64
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pytest

from conftest import run_cli
from constellations.analysis import analyze_pairs
from constellations.analysis.report import count, html_report, number, percent

T, B = 10.0, -5.0  # threshold -b/t = 0.5
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}


def _planted(N=200, d=16, noise=0.35, seed=0):
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((N, d))
    V = U + noise * rng.standard_normal((N, d))
    return U / np.linalg.norm(U, axis=1, keepdims=True), V / np.linalg.norm(V, axis=1, keepdims=True)


def _brute(U, V):
    """The key numbers, float64 brute force over the N^2 products, formatted as the report prints them."""
    S = U @ V.T
    N = len(U)
    pos, neg = np.diag(S), S[~np.eye(N, dtype=bool)]
    y = np.eye(N, dtype=bool).ravel()
    p = 1.0 / (1.0 + np.exp(-(T * S.ravel() + B)))
    q = np.minimum((p * 10).astype(int), 9)  # 10 equal bins of p
    ece = sum(abs(y[q == k].sum() - p[q == k].sum()) for k in range(10)) / p.size
    return {"margin": number((pos.min() - neg.max()) / 2), "b_rel": number((pos.min() + neg.max()) / 2),
            "threshold": number(-B / T), "ece": number(ece, 4),
            "r1_uv": percent(np.mean(S.argmax(axis=1) == np.arange(N))),
            "r1_vu": percent(np.mean(S.argmax(axis=0) == np.arange(N))),
            "below": count(np.count_nonzero(pos < -B / T)), "above": count(np.count_nonzero(neg > -B / T))}


@pytest.fixture(scope="module")
def planted():
    U, V = _planted()
    res = analyze_pairs((U, V), t=T, bias=B, gap_time=None)
    return html_report(res, source="planted <pairs> & co.npz"), _brute(U, V)


class _Tags(HTMLParser):
    """Open/close balance of the non-void tags, and the img sources."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs).get("src", ""))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)


def _self_contained(text, images=2):
    low = text.lower()
    for bad in ("http://", "https://", "<script", "<link", "@import", "url(", "<iframe", "<object"):
        assert bad not in low, bad
    parser = _Tags()
    parser.feed(text)
    assert parser.stack == [] and parser.errors == []
    assert len(parser.images) == images  # the histograms and the reliability diagram
    for src in parser.images:
        head = "data:image/png;base64,"
        assert src.startswith(head)
        assert base64.b64decode(src[len(head):])[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_self_contained_escaped_and_shows_the_brute_force_numbers(planted):
    text, want = planted
    assert text.startswith("<!DOCTYPE html>")
    _self_contained(text)
    assert "planted &lt;pairs&gt; &amp; co.npz" in text and "<pairs>" not in text  # the name is escaped
    for key in ("margin", "b_rel", "threshold", "ece", "r1_uv", "r1_vu", "below", "above"):
        assert want[key] in text, (key, want[key])
    for words in ("HALF the gap", "ECE", "R@1", "R@5", "R@10", "given model", "best fit", "|gradient|",
                  "per item (big_vision)", "modality gap", "N = 200 items, d = 16, M = 2"):
        assert words in text, words


def test_report_without_a_model_and_for_a_constellation():
    # Orthonormal U = V: every positive product is 1, every negative 0 (a constellation, m = 1/2); the fit
    # has no minimiser (separable), so there is no calibration and no model column.
    Q = np.linalg.qr(np.random.default_rng(1).standard_normal((12, 12)))[0]
    res = analyze_pairs((Q, Q.copy()), gap=False)
    text = html_report(res.to_dict(), source="ortho")
    assert "every positive beats every negative" in text and f"<b>{number(0.5)}</b>" in text
    assert "separable" in text and "No reliability table" in text and "not run (--no-gap)" in text
    _self_contained(text, images=1)  # the histograms only


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CONSTELLATIONS_REQUIRE_BROWSER") == "1":
        pytest.fail("CONSTELLATIONS_REQUIRE_BROWSER=1 but no chromium, chromium-browser or google-chrome on PATH")
    pytest.skip("no headless browser (chromium) on PATH: install Debian's chromium to render the report")


def _chromium(exe, tmp_path, *args):
    cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}", *args]
    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_report_renders_in_headless_chromium(planted, tmp_path):
    exe = _browser()
    text, want = planted
    page = tmp_path / "report.html"
    page.write_text(text, encoding="utf-8")
    shot = tmp_path / "shot.png"
    _chromium(exe, tmp_path, "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri())
    from matplotlib.image import imread

    img = imread(shot)[..., :3]
    assert img.shape[:2] == (2400, 1200)
    assert img.std() > 0.1  # not blank
    assert np.mean(img.min(axis=2) < 0.9) > 0.05  # a fair share of ink
    r, b = img[..., 0], img[..., 2]
    assert np.mean(b > r + 0.15) > 0.001 and np.mean(r > b + 0.15) > 0.01  # the blue and vermilion histograms
    dom = _chromium(exe, tmp_path, "--dump-dom", page.as_uri())
    assert "Paired-embedding analysis" in dom
    for key in ("margin", "ece", "r1_uv", "threshold", "below"):
        assert want[key] in dom, (key, want[key])


def test_cli_writes_the_report_and_refuses_a_bad_suffix(tmp_path):
    U, V = _planted(N=40, d=8, seed=3)
    np.savez(tmp_path / "p.npz", U=U, V=V)
    bad = run_cli("analyze", tmp_path / "p.npz", "--report", tmp_path / "r.htm", "--quiet")
    assert bad.returncode == 2 and "html" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.htm").exists()
    ok = run_cli("analyze", tmp_path / "p.npz", "--t", "10", "--bias", "-5", "--no-gap", "--quiet",
                 "--report", tmp_path / "r.html")
    assert ok.returncode == 0, ok.stderr
    text = (tmp_path / "r.html").read_text(encoding="utf-8")
    _self_contained(text)
    assert "p.npz" in text and _brute(U, V)["margin"] in text
    assert re.search(r"wrote the HTML report .*r\.html", ok.stdout)
