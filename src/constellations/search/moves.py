r"""Basin-hopping moves from the best configuration, and the loop that schedules them.

Every move has one signature, ``move(pb, X, m, rng, hop) -> (Y, m_Y, timed_out)`` (``hop`` a
:class:`Hop`: beta schedule, deadline, polish budget, counters), and its result is kept only if it
raises the float64 margin:

- :func:`kick`: perturb every row by a Gaussian of scale 0.01, 0.03, 0.1, 0.001 or 0.003 (cycled),
  renormalise and polish directly.  This escapes the degenerate points where the LP polish stalls
  next to a better vertex (it is what finds the N = 18 and N = 27 Tammes optima in d = 3, and,
  with the micro-kicks of 0.001 and 0.003, the N = 73, 95 and 99 ones in the 60 s sweeps).  A kick
  that is large against the code's spacing (KICK_NUDGE) is sharpened first and polished only near
  the best;
- :func:`jump`: perturb by ``hop_sigma`` (0.3), renormalise, re-anneal from beta = 160 with short
  stages, then polish when the result is within the smoothing gap of the best (this finds other
  basins, e.g. N = 28 in d = 3);
- :func:`reseat`: move one point and its k - 1 nearest neighbours (k = 1, 2 or 4) by one to two
  times the code's smallest angle, then re-anneal as :func:`jump` does, on a chain of its own that
  starts again from a fresh restart after a Luby sequence of step counts (the whole portfolio on
  large problems, whose LP is deferred: there the codes are glassy and :func:`mbh`'s steps stall);
- :func:`swap` (tied only): put an extra point in the deepest hole, re-optimise the N + 1 code,
  then take out the point whose removal leaves the best polished code (this finds the N = 26
  Tammes optimum in d = 3, which random starts miss);
- :func:`multiswap` (tied only): remove the k most crowded points (k = 2, 3 in turn), refill the k
  deepest holes one after the other, re-anneal and polish;
- :func:`fresh`: a fresh restart elsewhere, polished when it comes near the best (other basins);
- :func:`antipodal` (tied, N even): a fresh antipodal restart [Y; -Y], polished when it comes near the
  best (the root and kissing configurations: D5, E6, E7, E8 roots);
- :func:`mbh`: monotonic basin hopping (Leary 2000; Addis, Locatelli and Schoen 2005) on a chain
  of its own: perturb every row of the chain's configuration, re-optimise at sharp betas only, keep
  the result if its float64 margin is larger; a pull runs such steps for MBH_BURST seconds and
  polishes the chain once if it moved.  Without an LP per step, a step costs a few L-BFGS stages
  (with the compiled stages, :mod:`objective.compiled`, hundredths of a second at N = 75,
  d = 3): this is what reaches the d = 3 Tammes records for N = 57 and 75 that restarts and kicks
  miss.

:func:`basin_hop` treats the moves as the arms of a portfolio
(:class:`search.portfolio.Portfolio`): successive halving on margin gained per second
decides which move runs next, so the budget goes to what pays on the problem at hand (kicks on
d = 3 codes that the LP leaves at a degenerate point, fresh restarts on free problems whose basins
are many and shallow, ...).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from constellations.codes.constructions import code_max_inner_product
from constellations.core.deadline import Deadline
from constellations.core.margins import code_margin

from constellations.objective.reference import smoothing_gap
from constellations.search.polish import polish
from constellations.search.budget import polish_fits
from constellations.search.optimizer import SHARP_BETAS, default_schedule, normalize
from constellations.search.portfolio import GAIN_FLOOR, Portfolio
from constellations.search.restarts import SAME_BASIN, WORKER_GRACE, Phase, Progress, gather, restart, submit

__all__ = ["Hop", "kick", "jump", "reseat", "luby", "swap", "multiswap", "fresh", "antipodal", "mbh", "MOVES",
           "hop_starts", "applies", "basin_hop", "basin_hop_parallel"]

#: Starting beta of a basin-hopping step (sharp enough to stay near the perturbed point).
HOP_START_BETA = 160.0


#: Row perturbations of the "kick" hops (cycled), polished without re-annealing.  The LP polish
#: can stall at a degenerate point next to a better vertex (Tammes N = 18 in d = 3 stops at
#: m = 0.1756185 and N = 27 at 0.1208053); a kick of 0.01-0.03 and a fresh polish reach 0.1756521
#: and 0.1208054 in every one of 20 tries.  The LP also stops at points where no first-order move
#: gains but a nearby vertex is better: the N = 73 code that the d = 3 sweeps ended at (5.8e-8 below
#: the record, every point within 0.002 of the record's) reaches the record after a kick of 0.001
#: and a polish in 8 of 8 tries, after one of 0.01 in 3 of 8; at N = 95 kicks of 0.0003-0.003 close
#: a gap of 1.0e-8 in 9 of 18.  Hence the micro-kicks 0.001 and 0.003 (0.1-0.5 s each at N = 73-99).
KICK_SIGMAS = (0.01, 0.03, 0.1, 0.001, 0.003)
#: A kick displacing the points (sigma sqrt(d) per row) by more than this fraction of their smallest
#: angle is sharpened before its LP polish (:func:`kick`).  Polished directly, a kick of 0.1 at
#: N = 96, d = 3 (angle 0.38) took 6.6 s against 0.6-1.0 s for 0.01-0.03, and ended 6e-4 below.
KICK_NUDGE = 0.25




#: Swap moves (tied only; see :func:`swap`): removals polished, and the number of random points
#: searched for the deepest hole.
SWAP_CANDIDATES = 8


SWAP_PROBES = 4000


#: No swaps above this many variables N d: each one costs SWAP_CANDIDATES + 1 LP polishes.
SWAP_MAX_VARS = 1200


def window_hop(n, beta, n_edges, tied):
    """Hop results within this of the best are polished (twice the smoothing gap)."""
    return 2.0 * smoothing_gap(n, beta, n_edges, tied)


#: Monotonic basin hopping (:func:`mbh`): seconds of steps per pull, the sharp betas each step
#: re-optimises at, and the perturbation: per coordinate MBH_SIGMA theta / sqrt(d) times one of
#: MBH_SCALES (cycled), theta the code's smallest angle (arccos of its largest inner product).  At
#: N = 75, d = 3 this is 0.03 (a fifteenth of the spacing).
MBH_BURST = 1.0
MBH_BETAS = (2560.0, 10240.0) + SHARP_BETAS
MBH_SIGMA = 0.13
MBH_SCALES = (1.0, 0.3, 3.0)
#: Steps in a row without gain after which the chain starts again from a fresh restart (at N = 75,
#: d = 3 the gains come within the first 40 steps or so, then the chain sits in its basin).
MBH_PATIENCE = 60
#: ... or after this many seconds of its steps without gain: a step costs 0.2 s at N = 100, d = 3
#: and 0.5 s at N = 100, d = 10, where 60 steps would outlast most of a one-minute search (tied,
#: 60 s, seeds 0-4: median 0.333472 with 10 s against 0.333388 with 60 steps alone;
#: data/search/tied_n100_d10_60s_v5.txt and _v4.txt).
MBH_PATIENCE_SECONDS = 10.0
#: Gains below this (L-BFGS noise within one basin) count as stalls and do not call for a polish.
MBH_MIN_GAIN = 1e-8


@dataclass
class Hop:
    """What a move needs besides the configuration: schedule, deadline, polish budget, counters."""

    betas: tuple
    deadline: Deadline
    polish_time: float | None
    hop_sigma: float = 0.3
    window: float = 0.0
    used: dict = field(default_factory=lambda: dict.fromkeys(MOVES, 0))
    settings: object = None  # the search's Settings (a fresh restart runs as the restarts do)
    chain: dict | None = None  # mbh's own chain: X, m (unpolished), seeded_at (the best's margin)
    mbh_window: float = 0.0  # a sharpened candidate this far below the best is not polished
    reseats: dict | None = None  # reseat's own chain: X, m, steps taken, number (1, 2, ...)
    credit: float = 0.0  # progress of the last pull short of a new best (the chain's own gain)

    def polish_deadline(self) -> Deadline:
        """The deadline of one polish: ``polish_time`` seconds from now, within the hop's deadline but
        at least 0.05 s (a polish started at the deadline still gets one short LP step)."""
        left = self.deadline.left()
        if left is not None:
            left = max(0.05, left)
        seconds = min(x for x in (self.polish_time, left) if x is not None) if (self.polish_time or left) else None
        return Deadline.after(seconds, clock=self.deadline.clock)

    def polish(self, pb, Y):
        """LP-polish Y (:func:`search.polish.polish`) within :meth:`polish_deadline`; when the problem
        defers its LPs (:attr:`~search.problem.Problem.lp_deferred`), sharpen it instead."""
        if pb.lp_deferred:
            Y, mY, _ = pb.sharpen(Y, self.deadline)
            return Y, mY
        pr = polish(Y, pb.free_edges, tied=pb.tied, time_limit=self.polish_deadline())
        return pr.X, pr.margin

    def reanneal(self, pb, Y, m):
        """Re-anneal Y through ``betas`` (from beta = 160, short stages), then :meth:`polish` it if
        it came within ``window`` of m: ``(Y, margin, timed_out)``.  What :func:`jump` and
        :func:`reseat` do with their perturbed configurations."""
        Y, mY, late = pb.sharpen(Y, self.deadline, self.betas)
        if not late and mY >= m - self.window:
            Y, mY = self.polish(pb, Y)
        return Y, mY, late

    def restart(self, pb, index, rng, kind="random"):
        """A fresh restart number ``index`` (:func:`search.restarts.restart`: its beta
        schedule and iteration cap; ``kind`` "random" or "antipodal") under the search's settings and
        this deadline, seeded from rng: ``(X, margin, timed_out)``.  What :func:`fresh`,
        :func:`antipodal`, :func:`mbh` and :func:`reseat` start new basins from."""
        seed = np.random.SeedSequence(int(rng.integers(1 << 62)))
        return restart(pb, self.settings, index, seed, None, self.deadline, kind=kind)

    def polish_if_near(self, pb, Y, m):
        """Sharpen Y (:meth:`Problem.sharpen`), then :meth:`polish` it if it came within
        ``mbh_window`` of m: ``(Y, margin, timed_out)``.  What a move that starts a new basin does
        with its result: the LP is spent only where it can make a new best."""
        Y, mY, late = pb.sharpen(Y, self.deadline)
        if not late and mY >= m - self.mbh_window:
            Y, mY = self.polish(pb, Y)
        return Y, mY, late


def kick(pb, X, m, rng, hop):
    """A small Gaussian kick of every row (scales KICK_SIGMAS, cycled), polished directly -- unless
    it is not small: a kick of sigma with sigma sqrt(d) > KICK_NUDGE theta (theta the code's
    smallest angle) moves the points by more than a fraction of their spacing, so that it starts
    a new basin rather than nudging the LP off a degenerate point; such a kick is sharpened first
    and polished only within ``hop.mbh_window`` of m (:meth:`Hop.polish_if_near`), as in :func:`fresh`."""
    sigma = KICK_SIGMAS[hop.used["kick"] % len(KICK_SIGMAS)]
    Y = normalize(X + sigma * rng.standard_normal(X.shape))
    if sigma * np.sqrt(pb.dim) > KICK_NUDGE * _angle(X):
        return hop.polish_if_near(pb, Y, m)
    Y, mY = hop.polish(pb, Y)
    return Y, mY, False


def jump(pb, X, m, rng, hop):
    """Perturb by ``hop_sigma``, re-anneal from a sharp beta, polish if within the window of m."""
    return hop.reanneal(pb, normalize(X + hop.hop_sigma * rng.standard_normal(X.shape)), m)


#: Shapes of the re-seat moves (:func:`reseat`), cycled: (k, s), a random point and its k - 1
#: nearest neighbours moved by a Gaussian of s theta / sqrt(d) per coordinate.  Chains of re-seats
#: (accept if better, 45 s from one restart, N = 100, d = 10, tied; seeds 1-4, ad hoc) climbed from
#: 0.3305-0.3311 to 0.3345 in 2 of 2 chains with (2, 1.0) and with (4, 2.0), 1 of 2 with (1, 2.0),
#: 2 of 4 with (4, 1.0) and 1 of 2 with (16, 1.0); with (8, 1.0) and (8, 0.5) they stalled at
#: 0.3312-0.3332, and re-annealing from beta = 640 instead of 160 at 0.3314-0.3330.
RESEAT_SHAPES = ((2, 1.0), (4, 2.0), (1, 2.0), (4, 1.0))
#: Steps of a re-seat chain per unit of the Luby sequence (:func:`luby`): chain i runs
#: RESEAT_CHAIN_STEPS * luby(i) steps, then the next starts from a fresh restart.  40 steps are
#: about 12 s at N = 100, d = 10 on one core.  There whether a chain reaches the m >= 0.334 codes
#: is settled by where it starts (a chain with 2.5 times as many, cheaper steps did no better):
#: tied, 45 s from a fresh restart, seeds 0-15, one chain reached them in 7 of 16 runs, chains on
#: this schedule in 11 of 16 (benchmarks/bench_reseat_chains.py; data/search/reseat_chains_n100_d10.txt,
#: with the ad hoc runs before it).  Luby's sequence
#: (1, 1, 2, 1, 1, 2, 4, ...; Luby, Sinclair and Zuckerman 1993) is within a log factor of the best
#: restart schedule for any distribution of run lengths, so long runs still get long chains.
RESEAT_CHAIN_STEPS = 40


def luby(i: int) -> int:
    """The i-th term (i >= 1) of Luby's sequence 1, 1, 2, 1, 1, 2, 4, 1, 1, 2, 1, 1, 2, 4, 8, ...:
    2^(k-1) when i = 2^k - 1, else luby(i - 2^(k-1) + 1) for the k with 2^(k-1) <= i < 2^k - 1."""
    while True:
        k = i.bit_length()
        if i == (1 << k) - 1:
            return 1 << (k - 1)
        i -= (1 << (k - 1)) - 1


def reseat(pb, X, m, rng, hop):
    r"""Re-seat a cluster of the re-seat chain's configuration: move a random point and its k - 1
    nearest neighbours (in every modality) by a Gaussian of s theta / sqrt(d) per coordinate ((k, s)
    from RESEAT_SHAPES, cycled; theta the code's smallest angle), re-anneal the whole configuration
    from beta = 160 with short stages (as :func:`jump`) and polish when within the window of m.

    The chain (``hop.reseats``) starts from X, keeps a step if it raises the chain's margin, and
    after RESEAT_CHAIN_STEPS * luby(i) steps (chain i = 1, 2, ...) starts again from a fresh
    restart (:func:`search.restarts.restart`, as :func:`fresh`), returned as this call's
    result.  The best configuration stays the search's, whatever the chain does.

    Where the codes are glassy -- N = 100, d = 10: chains that perturbed all rows (0.013 to 0.13
    times theta / sqrt(d)) and re-optimised at sharp betas (as :func:`mbh`) or from beta = 160 or
    640 (as :func:`jump`) gained less than 1e-5 in 90-200 steps each -- a local re-seat changes one
    region's contact graph while the soft stage lets the rest of the code make room.  Measured ad
    hoc: see RESEAT_SHAPES and RESEAT_CHAIN_STEPS."""
    ch = hop.reseats
    if ch is None:
        ch = hop.reseats = dict(X=X, m=m, steps=0, number=1)
    elif ch["steps"] >= RESEAT_CHAIN_STEPS * luby(ch["number"]):
        Y, mY, late = hop.restart(pb, ch["number"], rng)
        hop.reseats = dict(X=Y, m=mY, steps=0, number=ch["number"] + 1)
        return Y, mY, late
    k, s = RESEAT_SHAPES[hop.used["reseat"] % len(RESEAT_SHAPES)]
    C = ch["X"] if ch["X"].ndim == 2 else ch["X"][0]
    idx = np.argsort(-(C @ C[rng.integers(C.shape[0])]))[:k]  # the point itself first (<c, c> = 1)
    Y = np.array(ch["X"], dtype=np.float64)
    Y[..., idx, :] += s * _angle(C) / np.sqrt(pb.dim) * rng.standard_normal(Y[..., idx, :].shape)
    Y, mY, late = hop.reanneal(pb, normalize(Y), ch["m"])
    ch["steps"] += 1
    if not late and mY > ch["m"]:
        ch["X"], ch["m"] = Y, mY
    return Y, mY, late


def swap(pb, C, m, rng, hop):
    """Insert a point, re-optimise the N + 1 code, take a point out again (tied codes only).

    The new point goes to the deepest hole of C (the best of SWAP_PROBES random points, the one
    whose largest inner product with C is smallest); the N + 1 rows are annealed and sharpened
    (SHARP_BETAS); then the SWAP_CANDIDATES removals with the largest margins are sharpened
    and the best of them is polished.  Codes with N points often sit next to an (N + 1)-code with
    one point removed: Tammes N = 26 in d = 3 is found this way (41.0376616 deg) and essentially
    never from random starts, which end at 41.0347567 deg.  (Ranking the removals by sharp L-BFGS
    instead of an LP each makes a swap about SWAP_CANDIDATES times cheaper.)
    """
    n, dim = C.shape
    P = normalize(rng.standard_normal((SWAP_PROBES, dim)))
    h = P[np.argmin((P @ C.T).max(axis=1))]
    Y = normalize(np.vstack([C, h]) + 0.02 * rng.standard_normal((n + 1, dim)))
    Y, late = pb.anneal(Y, hop.betas + SHARP_BETAS, hop.deadline)
    if late:
        return C, m, True
    order = sorted(range(n + 1), key=lambda k: -code_margin(np.delete(Y, k, axis=0)))
    best, best_m = None, -np.inf
    for k in order[:SWAP_CANDIDATES]:
        Z, mZ, late = pb.sharpen(np.delete(Y, k, axis=0), hop.deadline)
        if late:
            return C, m, True
        if mZ > best_m:
            best, best_m = Z, mZ
    if best_m < m - hop.mbh_window:
        return best, best_m, False
    Z, mZ = hop.polish(pb, best)
    return Z, mZ, hop.deadline.expired()


#: Points taken out and put back by :func:`multiswap`, cycled.
MULTISWAP_K = (2, 3)


def _deepest_hole(Y, rng):
    """The best of SWAP_PROBES random unit vectors: the one whose largest inner product with Y is least."""
    P = normalize(rng.standard_normal((SWAP_PROBES, Y.shape[1])))
    return P[np.argmin((P @ Y.T).max(axis=1))]


def multiswap(pb, C, m, rng, hop):
    """Remove the k most crowded points of a code, refill the deepest holes, re-anneal, polish.

    Crowding of point i is sum_j exp(50 (<C_i, C_j> - c)) over j != i (c the largest cosine): the
    number of its near-contacts, softly, so that ties between equally extreme points are broken
    by how many neighbours press on them.  Holes are filled one after the other, each against the
    points already placed.
    """
    n = C.shape[0]
    k = MULTISWAP_K[hop.used["multiswap"] % len(MULTISWAP_K)]
    if n - k < 2:
        return C, m, False
    G = C @ C.T
    np.fill_diagonal(G, -np.inf)
    crowd = np.exp(50.0 * (G - G.max())).sum(axis=1)
    Y = C[np.argsort(crowd)[: n - k]]
    for _ in range(k):
        Y = np.vstack([Y, _deepest_hole(Y, rng)])
    Y, late = pb.anneal(normalize(Y + 0.02 * rng.standard_normal(Y.shape)), hop.betas, hop.deadline)
    if late:
        return C, m, True
    Y, mY = hop.polish(pb, Y)
    return Y, mY, False


def fresh(pb, X, m, rng, hop):
    """A fresh restart (random rows, or the energy continuation under ``strategy="energy"``), as
    the restarts run it (:func:`search.restarts.restart`), sharpened, and polished when
    then within ``hop.mbh_window`` of m: the portfolio's way to look in another basin instead of
    near the best one."""
    Y, mY, late = hop.restart(pb, hop.used["fresh"], rng)
    return (Y, mY, late) if late else hop.polish_if_near(pb, Y, m)


def antipodal(pb, X, m, rng, hop):
    """A fresh antipodal restart (:func:`search.restarts.antipodal_code`: N/2 rows Y, the code
    [Y; -Y]; tied codes with N even), sharpened, and polished when then within ``hop.mbh_window``
    of m: where the best codes are antipodal (the root and kissing configurations of d = 5..8) this
    reaches basins that plain restarts and the local moves miss."""
    Y, mY, late = hop.restart(pb, hop.used["antipodal"], rng, kind="antipodal")
    return (Y, mY, late) if late else hop.polish_if_near(pb, Y, m)


def _angle(X) -> float:
    """Smallest angle between the rows of a code (N, d), or of the first modality (M, N, d)."""
    C = X if X.ndim == 2 else X[0]
    return float(np.arccos(np.clip(code_max_inner_product(C), -1.0, 1.0)))


def mbh(pb, X, m, rng, hop):
    """Monotonic basin hopping for MBH_BURST seconds on the move's own chain (module docstring).

    The chain starts (again) from the best X whenever the best has moved past what it was seeded
    from, and from a fresh restart (:func:`fresh`'s) after MBH_PATIENCE steps in a row, or
    MBH_PATIENCE_SECONDS of steps, without gain; its margins are unpolished (sharp-beta L-BFGS),
    compared only with each other.  If the chain moved during the pull and came within the window
    of m, its configuration is LP-polished (:meth:`Hop.polish`) and returned.  The chain's gain in
    the pull is its credit with the portfolio (``hop.credit``): MBH pays after many steps, most of
    them short of a new best, and a portfolio that saw only new bests would drop it at once."""
    ch = hop.chain
    late = False
    if ch is None or m > ch["seeded_at"] + GAIN_FLOOR:
        ch = hop.chain = _chain(pb, X, m, hop)
    m_start, t_end = ch["m"], time.time() + MBH_BURST
    while not late and time.time() < t_end and not hop.deadline.expired():
        if ch["stall"] >= MBH_PATIENCE or ch["idle"] >= MBH_PATIENCE_SECONDS:
            Y, _, late = hop.restart(pb, hop.used["mbh"] + ch["restarts"], rng)
            ch = hop.chain = _chain(pb, Y, ch["seeded_at"], hop, ch["restarts"] + 1)
            m_start = ch["m"]
            continue
        t_step = time.time()
        Y, mY, late = pb.sharpen(_perturb(ch, rng), hop.deadline, MBH_BETAS)
        ch["steps"] += 1
        big = not late and mY > ch["m"] + MBH_MIN_GAIN
        if not late and mY > ch["m"] + GAIN_FLOOR:
            # creeping by less than MBH_MIN_GAIN (L-BFGS noise in one basin) still counts as a stall
            ch.update(X=Y, m=mY, moved=ch["moved"] or big)
        ch["stall"] = 0 if big else ch["stall"] + 1
        ch["idle"] = 0.0 if big else ch["idle"] + time.time() - t_step
    hop.credit = max(0.0, ch["m"] - m_start)
    if not ch["moved"] or late or ch["m"] < m - hop.mbh_window:
        return ch["X"], ch["m"], late
    ch["moved"] = False
    Y, mY = hop.polish(pb, ch["X"])
    if mY > m:
        ch["seeded_at"] = mY  # its own gain: no reseed next pull
    return Y, mY, False


def _perturb(ch, rng):
    """The chain's configuration with every row perturbed (MBH_SIGMA theta / sqrt(d) per coordinate,
    times MBH_SCALES cycled), renormalised."""
    s = ch["sigma"] * MBH_SCALES[ch["steps"] % len(MBH_SCALES)]
    return normalize(ch["X"] + s * rng.standard_normal(ch["X"].shape))


def _chain(pb, X, seeded_at, hop, restarts=0) -> dict:
    """A new MBH chain from X: X sharpened (SHARP_BETAS), its step size from its angle."""
    Y, mY, _ = pb.sharpen(X, hop.deadline)
    sigma = MBH_SIGMA * max(_angle(Y), 1e-3) / np.sqrt(pb.dim)
    return dict(X=Y, m=mY, seeded_at=seeded_at, moved=False, stall=0, idle=0.0, steps=0, sigma=sigma,
                restarts=restarts)


MOVES = {"kick": kick, "jump": jump, "reseat": reseat, "swap": swap, "multiswap": multiswap, "fresh": fresh,
         "mbh": mbh, "antipodal": antipodal}
#: Moves that only make sense for a tied code.
TIED_ONLY = ("swap", "multiswap", "antipodal")


#: The antipodal restarts join the portfolio only when a restart (the median of the phase's) costs at
#: most this share of the hops' time: every bracket pulls every arm once, and a pull of 8-15 s (N = 100,
#: d = 10) in a 45 s hop phase took the time of the re-seats (that search fell short of 0.334 in 4 of
#: 7 seeds); a restart of the E7 roots (7, 126) costs about 1 s of 80.
ANTIPODAL_COST_SHARE = 0.05


def applies(pb, move, restart_seconds=0.0, hop_seconds=None) -> bool:
    """Can ``move`` run on this problem?  Swaps: tied codes up to SWAP_MAX_VARS variables;
    antipodal restarts: tied codes with N even, a restart's ``restart_seconds`` at most
    ANTIPODAL_COST_SHARE of the ``hop_seconds`` (None: no deadline); the rest: always."""
    if move == "antipodal":
        cheap = hop_seconds is None or restart_seconds <= ANTIPODAL_COST_SHARE * hop_seconds
        return pb.tied and pb.n % 2 == 0 and cheap
    return move not in TIED_ONLY or pb.tied and pb.n_vars <= SWAP_MAX_VARS


def basin_hop(pb, st, ph, seeds, t0, deadline: Deadline, progress):
    """Hop from ``ph``'s best configuration until ``st.hops`` moves or ``deadline``; keep gains.

    The moves of ``st.moves`` that apply (:func:`applies`: swaps only for tied codes up to
    SWAP_MAX_VARS variables, antipodal restarts for tied codes with N even whose restarts are cheap
    against the time left, ANTIPODAL_COST_SHARE) are the
    arms of a :class:`search.portfolio.Portfolio`: successive halving on margin gained per
    second decides which runs next; ``ph.moves["portfolio"]`` reports what each arm did."""
    n_hops = st.hops if st.hops is not None else (st.restarts or (1 << 30))
    rng = np.random.default_rng(seeds.spawn(1)[0])
    betas = st.betas or tuple(b for b in default_schedule(3) if b >= HOP_START_BETA)
    hop = Hop(betas, deadline, st.polish_time, st.hop_sigma, window_hop(pb.n, betas[-1], len(pb.edges), pb.tied),
              settings=st, mbh_window=window_hop(pb.n, MBH_BETAS[-1], len(pb.edges), pb.tied))
    cost = ph.restart_seconds()
    hop_seconds = deadline.left() if len(st.moves) > 1 else None  # one arm alone is what was asked for
    order = tuple(mv for mv in st.moves if applies(pb, mv, cost, hop_seconds))
    if not order:
        return
    book = Portfolio(order)
    m_before, done = ph.best_m, 0
    while done < n_hops and not deadline.expired() and polish_fits(pb, st, deadline):
        move = book.next()
        t_hop, m_was = time.time(), ph.best_m
        Y, mY, late = MOVES[move](pb, ph.best_X, ph.best_m, rng, hop)
        done += 1
        hop.used[move] += 1
        if mY > ph.best_m + GAIN_FLOOR:  # not an ulp: the same code re-polished claims nothing
            ph.moves["hops_improved"] += ph.offer(Y, mY, move)
        book.record(move, time.time() - t_hop, max(ph.best_m - m_was, hop.credit))
        hop.credit = 0.0
        if late:
            break
        progress.step(ph.best_m, hop=True)
    if deadline.passed():
        ph.time_limited = True
    ph.moves.update(hops=done, hop_gain=float(ph.best_m - m_before), kicks=hop.used["kick"], swaps=hop.used["swap"],
                    portfolio=book.report())


def _hop_alone(pb, st, X, m, found_by, seeds, t0, deadline, restart_seconds=0.0):
    """One worker's basin hopping from (X, m), its restarts having cost ``restart_seconds`` each (the
    phase's median): ``(best X, best m, found_by, moves)``."""
    ph = Phase(durations=[restart_seconds])
    ph.offer(X, m, found_by)
    basin_hop(pb, st, ph, seeds, t0, deadline, Progress(None, None))  # the parent reports once it is back
    return ph.best_X, ph.best_m, ph.found_by, ph.moves


def hop_starts(ph, k: int) -> list:
    """Starts of ``k`` parallel basin-hopping runs: ``(X, m, found_by)`` of the phase's best, then of
    its restarts in decreasing margin from the second best on (the best configuration is the best
    restart's polish or its sharpened self: the same basin), one per basin (restarts within
    :data:`~search.restarts.SAME_BASIN` of one taken are passed over), cycling when there are fewer than k.

    Runs from one start are not independent where the start decides where they end: at N = 100,
    d = 10 (tied, 51 s, two workers, seeds 0-7) both workers ended in the same basin, to 1e-16,
    when they started from the best, and 4 of 8 searches reached m >= 0.334; with the second worker
    on the second-best restart, 7 of 8, and in 3 of those 7 that worker alone got there
    (data/search/hop_starts_n100_d10.txt)."""
    starts, taken = [(ph.best_X, ph.best_m, ph.found_by)], []
    for X, m in sorted(ph.results.values(), key=lambda r: -r[1]):
        if len(starts) >= k:
            break
        if all(abs(m - t) >= SAME_BASIN for t in taken):
            if taken:
                starts.append((X, m, "restart"))
            taken.append(m)
    return [starts[i % len(starts)] for i in range(k)]


def basin_hop_parallel(pb, st, ph, seeds, t0, deadline, progress, pool):
    """:func:`basin_hop` in each of the ``st.n_jobs`` workers of ``pool``
    (:func:`search.restarts.worker_pool`), each from its own start (:func:`hop_starts`: the
    phase's best, then the next best distinct restarts) with its own random stream
    (``seeds.spawn``) and so its own portfolio and MBH chain, until ``deadline``; the best of their
    results is offered to ``ph``.

    Basin hopping is a sequence of accept-if-better steps, so it does not split into parallel
    pieces; independent runs do: if one run reaches a basin with probability p, k runs reach it
    with probability 1 - (1 - p)^k -- if they are independent, which runs from one start are not
    where the start settles the outcome.  ``ph.moves`` sums the workers' counters (hops, improvements,
    kicks, swaps, and the portfolio's arms) and lists the margin each worker ended at."""
    ex, event = pool
    cost = ph.restart_seconds()
    futures = [submit(ex, _hop_alone, pb, st, *start, s, t0, deadline, cost)
               for start, s in zip(hop_starts(ph, st.n_jobs), seeds.spawn(st.n_jobs))]
    m_before = ph.best_m
    # a worker not back soon after the deadline is left out, within the 8% of the phase (from t0, its
    # start on time.time) that follows it
    give_up = deadline.later(min(WORKER_GRACE, 0.05 * max(0.0, deadline.at - t0)))
    outs = gather(futures, event, give_up)
    for X, m, found_by, _ in outs:
        if m > ph.best_m + GAIN_FLOOR:
            ph.offer(X, m, found_by)
    moves = [mv for *_, mv in outs]
    for key in ("hops", "hops_improved", "kicks", "swaps"):
        ph.moves[key] = sum(int(mv.get(key, 0)) for mv in moves)
    ph.moves["hop_gain"] = float(ph.best_m - m_before)
    ph.moves["hop_workers"] = [float(m) for _, m, _, _ in outs]
    if len(outs) < len(futures):
        ph.moves["hop_workers_abandoned"] = len(futures) - len(outs)
    reports = [mv["portfolio"] for mv in moves if "portfolio" in mv]
    if reports:
        ph.moves["portfolio"] = _merged(reports)
    if deadline.passed():
        ph.time_limited = True
    progress.step(ph.best_m, hop=True)


def _merged(reports) -> dict:
    """The workers' portfolio reports as one: each arm's counts and sums added up."""
    out = dict(reports[0])
    arms = {}
    for rep in reports:
        for name, a in rep["arms"].items():
            acc = arms.setdefault(name, dict.fromkeys(a, 0))
            for k, v in a.items():
                acc[k] = acc[k] + v if isinstance(v, (int, float)) else v
    out["arms"] = arms
    out["brackets"] = sum(rep.get("brackets", 0) for rep in reports)
    out["workers"] = len(reports)
    return out
