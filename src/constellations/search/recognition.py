r"""What a final configuration looks like: its contact graph, its rattlers, and a guess at the
minimal polynomial of its extreme cosine.

- **Contacts** of a code C (tied): the pairs i < j with <C_i, C_j> >= c - tol, c the largest inner
  product; of free rows X: the non-matched pairs with <X[k,i], X[l,j]> >= neg - tol and the matched
  ones with <X[k,i], X[l,i]> <= pos + tol, over the edges.  A **rattler** is an item in no contact:
  it can move a little without changing the margin.  ``tol`` (default 1e-8) is far above the 1e-12
  to which the exact polish equalises contacts and far below the gaps to non-contacts seen in
  polished codes; the counts are floating-point observations, not proofs.
- **Minimal polynomial**: :func:`min_poly` runs mpmath's ``findpoly`` (PSLQ on 1, x, ..., x^k)
  on the float64 value with small degree and coefficients.  A hit is *recognised, not proved*
  (the way Cohn's table of spherical codes lists them): a float64 number determines ~16 digits,
  and the search space (degree <= 4, |coefficients| <= 30) is kept small so that a chance hit
  within the tolerance is unlikely (about 1e-3 for a random number).
- **Antipodal**: a code is called antipodal when every row has a row at inner product <= -1 + tol
  (its negative, within sqrt(2 tol) in distance); an observation, like the contacts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from constellations.core.margins import block_rows

__all__ = ["Structure", "structure", "min_poly", "CONTACT_TOL"]

CONTACT_TOL = 1e-8
MIN_POLY_DEGREE = 4
MIN_POLY_MAXCOEFF = 30
MIN_POLY_TOL = 1e-12


@dataclass(frozen=True)
class Structure:
    """Contacts, rattlers and the recognised minimal polynomial (None when nothing was found) of
    ``value``: the largest cosine c of a code, or the margin m of free rows."""

    contacts: int
    rattlers: int
    value: float
    min_poly: str | None
    antipodal: bool | None = None  # a code: is every row's negative a row (to CONTACT_TOL)?  free rows: None


def _offdiag_blocks(A, B, block):
    """Blocks (a, A[a:a+block] B^T) with the diagonal entries set to -inf."""
    for a in range(0, A.shape[0], block):
        G = A[a:a + block] @ B.T
        r = np.arange(G.shape[0])
        G[r, a + r] = -np.inf
        yield a, G


def _near_max(A, B, top, tol, block):
    """(count, rows hit in A, rows hit in B) of the off-diagonal entries of A B^T >= top - tol."""
    N = A.shape[0]
    count, hit_a, hit_b = 0, np.zeros(N, bool), np.zeros(N, bool)
    for a, G in _offdiag_blocks(A, B, block):
        I, J = np.nonzero(G >= top - tol)
        count += len(I)
        hit_a[a + I] = True
        hit_b[J] = True
    return count, hit_a, hit_b


def _code_pass(C, block):
    """One pass over the Gram matrix of a code C (N, d): (its largest off-diagonal entry c, the
    smallest entry of each row, shape (N,)).  A row's smallest entry is off the diagonal (the
    diagonal is 1, the largest possible), so the diagonal is masked for c only."""
    c, low = -np.inf, np.empty(C.shape[0])
    for a in range(0, C.shape[0], block):
        G = C[a:a + block] @ C.T
        low[a:a + G.shape[0]] = G.min(axis=1)
        r = np.arange(G.shape[0])
        G[r, a + r] = -np.inf
        c = max(c, float(G.max()))
    return c, low


def structure(X, edges=None, *, tol: float = CONTACT_TOL) -> Structure:
    """Contacts, rattlers and min poly of a code (N, d) or of free rows (M, N, d) over ``edges``."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 2:
        block = block_rows(X.shape[0])
        c, low = _code_pass(X, block)
        count, hit, _ = _near_max(X, X, c, tol, block)
        # antipodal: every row has a row at inner product <= -1 + tol (its negative, to sqrt(2 tol))
        return Structure(count // 2, int((~hit).sum()), c, min_poly(c), bool((low <= -1.0 + tol).all()))
    N = X.shape[1]
    block = block_rows(N)
    pos = min(float(np.einsum("nd,nd->n", X[k], X[l]).min()) for k, l in edges)
    neg = max(float(G.max()) for k, l in edges for _, G in _offdiag_blocks(X[k], X[l], block))
    count, touched = 0, np.zeros(N, bool)
    for k, l in edges:
        n_neg, ha, hb = _near_max(X[k], X[l], neg, tol, block)
        diag = np.einsum("nd,nd->n", X[k], X[l])
        matched = diag <= pos + tol
        count += n_neg + int(matched.sum())
        touched |= ha | hb | matched
    m = 0.5 * (pos - neg)
    return Structure(count, int((~touched).sum()), m, min_poly(m))


def min_poly(x: float, *, degree: int = MIN_POLY_DEGREE, maxcoeff: int = MIN_POLY_MAXCOEFF,
             tol: float = MIN_POLY_TOL) -> str | None:
    """An integer polynomial P of degree <= ``degree`` with P(x) ~ 0, as text ("5*x^2 - 1"), or None.

    mpmath.findpoly tries degrees 1, 2, ... in turn, so the first hit has the least degree found;
    leading coefficient made positive.  Recognised, not proved (see the module docstring).
    """
    import mpmath
    if not np.isfinite(x):
        return None
    if abs(x) <= tol:  # PSLQ needs non-zero entries; P = x fits within the tolerance
        return "x"
    try:
        with mpmath.workdps(30):
            coeffs = mpmath.findpoly(mpmath.mpf(float(x)), degree, maxcoeff=maxcoeff, tol=tol)
    except (ValueError, ZeroDivisionError):  # degenerate input to PSLQ: nothing recognised
        return None
    if coeffs is None:
        return None
    coeffs = [int(c) for c in coeffs]
    if coeffs[0] < 0:
        coeffs = [-c for c in coeffs]
    return _format(coeffs)


def _format(coeffs) -> str:
    deg = len(coeffs) - 1
    terms = []
    for i, c in enumerate(coeffs):
        p = deg - i
        if c == 0:
            continue
        mag = abs(c)
        body = ("x" if p == 1 else f"x^{p}") if p else ""
        text = (f"{mag}*{body}" if mag != 1 else body) if p else f"{mag}"
        sign = "-" if c < 0 else "+"
        terms.append((sign, text))
    first_sign, first = terms[0]
    out = ("-" if first_sign == "-" else "") + first
    for sign, text in terms[1:]:
        out += f" {sign} {text}"
    return out
