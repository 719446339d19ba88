"""Dimension-free SDP: a real solve that must return N/(2(N-1)) for M = 2."""
import pytest

from constellations.core.errors import ConstellationsError
from constellations.core.margins import margin_stats
from constellations.bounds import sdp_bound, sdp_margin


@pytest.mark.parametrize("N", range(3, 13))
def test_two_modalities_equals_theorem34(N):
    r = sdp_margin(N)
    assert r.solver_status.startswith("optimal") and r.status == "converged"
    assert r.margin == pytest.approx(N / (2 * (N - 1)), abs=1e-6)
    assert r.gram.shape == (2 * N, 2 * N)


@pytest.mark.parametrize("M,graph", [(3, "star"), (3, "complete"), (4, "star")])
def test_more_modalities(M, graph):
    N = 5
    r = sdp_margin(N, M, graph)
    assert r.margin == pytest.approx(N / (2 * (N - 1)), abs=1e-6)


def test_embedding_realises_the_margin():
    r = sdp_margin(6, 3, "complete")
    Y = r.embedding()
    assert Y.shape[:2] == (3, 6)
    s = margin_stats(Y, "complete")
    assert s.margin == pytest.approx(r.margin, abs=1e-5)


def test_fixed_b_rel_matches_theorem34():
    N = 6
    assert sdp_margin(N, b_rel=0.0).margin == pytest.approx(N / (3 * N - 4), abs=1e-6)
    b = sdp_bound(N, b_rel=0.9)
    assert b.value == pytest.approx(0.1, abs=1e-6) and not b.certified


@pytest.mark.parametrize("args", [(1,), (4, 1), (4, 2, None, 3.0)])
def test_bad_input(args):
    with pytest.raises(ConstellationsError):
        sdp_margin(*args)


def test_oversized_sdp_refused_before_cvxpy(monkeypatch):
    # N = 2000, M = 2 asked for 512 TB and aborted the process; now a ConfigurationError
    import cvxpy
    from constellations.core.errors import ConfigurationError
    from constellations.bounds.sdp import MAX_SDP_SIZE
    def never(*a, **k):
        raise AssertionError("the SDP was built and solved before the size check")

    monkeypatch.setattr(cvxpy.Problem, "solve", never)
    monkeypatch.setattr(cvxpy, "Variable", never)
    with pytest.raises(ConfigurationError, match="4000x4000"):
        sdp_margin(2000, 2)
    with pytest.raises(ConfigurationError, match=f"M\\*N <= {MAX_SDP_SIZE}"):
        sdp_bound(MAX_SDP_SIZE // 2 + 1, 2)
