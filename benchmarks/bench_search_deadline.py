"""Deadlines are promises (issue 11): wall time of ``search`` against ``time_limit`` as N grows.

For each N the free search (M = 2, d given) runs with the time limit; the promise is that the whole
call, verification included, ends within 10% + 1 s of it, or is refused at once (with the estimate)
when verifying the result alone cannot fit.  Prints N, the seconds, the margin, and OK / OVER /
REFUSED.

    python benchmarks/bench_search_deadline.py [time_limit] [dim] [N ...]
"""
import sys
import time

from constellations.core.errors import ConfigurationError
from constellations.search import search


def main(argv):
    limit = float(argv[0]) if argv else 5.0
    dim = int(argv[1]) if len(argv) > 1 else 64
    sizes = [int(a) for a in argv[2:]] or [1000, 5000, 20000, 100000]
    over = 0
    for n in sizes:
        t0 = time.time()
        try:
            r = search(n, dim, 2, restarts=None, time_limit=limit, seed=0, constructions=False)
        except ConfigurationError as exc:
            print(f"N={n:>7} d={dim}: REFUSED after {time.time() - t0:.2f} s: {exc}", flush=True)
            continue
        wall = time.time() - t0
        ok = wall <= 1.1 * limit + 1.0
        over += not ok
        print(f"N={n:>7} d={dim}: {wall:6.2f} s (limit {limit:g} s) margin {r.margin:.6f} "
              f"restarts {r.restarts} {'OK' if ok else 'OVER'}", flush=True)
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
