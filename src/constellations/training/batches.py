r"""Minibatches of items: a uniformly random B-subset of the N items for every run and step.

The sampler is counter-based, so that a batch is a pure function of (the run's seed, the step):

- each run s has a stream key k_s = mix(seed_s XOR TAG) (:func:`stream_keys`), where ``mix`` is the
  SplitMix64 finaliser (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
  OOPSLA 2014) and TAG a fixed constant that keeps this stream apart from the seed's other uses (the
  initial embeddings come from ``torch.Generator().manual_seed(seed)``);
- at optimiser step t, item i gets the 64-bit key u_{s,t,i} = mix(k_s + gamma (t N + i + 1)), the
  (t N + i)-th output of the SplitMix64 generator started at k_s (gamma = 0x9E3779B97F4A7C15, its Weyl
  increment);
- the batch of run s at step t is the set of the B items with the smallest keys, listed in increasing item
  order.

For independent uniform keys every ordering of the N items is equally likely, so the B smallest form a
uniformly random B-subset (without replacement within the step; batches of different steps are
independent).  Two keys coincide with probability about N^2 / 2^65 per step; the selection is then still
deterministic (``numpy.argpartition``).  Consequences: a run's batches do not depend on the other runs of
the batch (S) nor on where a run was interrupted and resumed: the sampler's whole state is (k_s, t), and a
checkpoint stores both.
"""
from __future__ import annotations

import numpy as np

__all__ = ["stream_keys", "splitmix64", "sample_batches", "chunk_steps"]

#: Distinguishes the minibatch stream from other streams derived from the same seed (ASCII "minibatc").
TAG = 0x6D696E6962617463
#: SplitMix64's Weyl increment (2^64 / golden ratio, odd).
GAMMA = 0x9E3779B97F4A7C15

#: Keys drawn at once by :func:`chunk_steps` (S x N x steps 64-bit numbers, 32 MiB).
CHUNK_KEYS = 1 << 22
#: Most steps of batches drawn at once.
CHUNK_STEPS = 64


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, element-wise on uint64 (arithmetic modulo 2^64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def splitmix64(key, counter) -> np.ndarray:
    """The ``counter``-th output (0-based) of SplitMix64 started at ``key``: mix(key + gamma (counter + 1)).

    ``key`` and ``counter`` are broadcast (uint64, arithmetic modulo 2^64).
    """
    key = np.asarray(key, dtype=np.uint64)
    counter = np.asarray(counter, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return _mix(key + np.uint64(GAMMA) * (counter + np.uint64(1)))


def stream_keys(seeds) -> np.ndarray:
    """The minibatch stream key of each run, (S,) uint64: mix(seed XOR TAG) (seeds as 64-bit two's complement)."""
    s = np.asarray(seeds, dtype=np.int64).reshape(-1).view(np.uint64)
    with np.errstate(over="ignore"):
        return _mix(s ^ np.uint64(TAG))


def sample_batches(keys, n: int, b: int, step0: int, count: int) -> np.ndarray:
    """The batches of steps step0, ..., step0 + count - 1: an int64 array (count, S, b).

    Entry [j, s] lists, in increasing order, the b items of 0..n-1 with the smallest keys
    u = :func:`splitmix64` (keys[s], (step0 + j) n + i) (see the module docstring).
    """
    keys = np.asarray(keys, dtype=np.uint64)
    steps = np.arange(step0, step0 + count, dtype=np.uint64)
    counters = steps[:, None, None] * np.uint64(n) + np.arange(n, dtype=np.uint64)[None, None, :]
    u = splitmix64(keys[None, :, None], counters)  # (count, S, n)
    if b >= n:  # every item, in order
        return np.broadcast_to(np.arange(n, dtype=np.int64), u.shape).copy()
    pick = np.argpartition(u, b - 1, axis=-1)[..., :b]
    return np.sort(pick, axis=-1).astype(np.int64)


def chunk_steps(runs: int, n: int, remaining: int) -> int:
    """How many steps of batches to draw at once: at most :data:`CHUNK_STEPS`, at most
    :data:`CHUNK_KEYS` keys, at most the steps remaining, at least one."""
    return max(1, min(CHUNK_STEPS, CHUNK_KEYS // max(1, runs * n), remaining))
