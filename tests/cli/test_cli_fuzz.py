"""Property-based fuzzing of every command's arguments and input files.

For random option values (numbers including nan/inf/negative/huge, garbage text, injection
strings) and random input files (garbage bytes, truncated or lying archives, NaN, wrong shapes,
mismatched N, pickled objects) every run of the real entry point
(:func:`constellations.cli.main.main`) must

- end within a time bound with exit status 0, 1, 2 or 130 (verify also 3: undecided in float64);
- never show a traceback; on exit 2 print exactly one line, ``constellations: error: ...``;
- on Ctrl-C (SIGINT, sent to some runs) exit 130 saying ``constellations: interrupted``;
- leave no temporary file, no output on exit 2, input files unchanged, and nothing executed
  (a canary file PWNED would be created by any evaluated injection string).

Each run is a forked child of the test process (commands imported once, so a run costs its own
work, not the imports); ``CONSTELLATIONS_FUZZ_SUBPROCESS=1`` runs each case as a fresh
``python -m constellations.cli.main`` instead, ``CONSTELLATIONS_FUZZ_EXAMPLES`` sets the number
of cases per command (default 25) and ``CONSTELLATIONS_FUZZ_RANDOM=1`` draws new cases each time
(default: the same derandomized cases every run).  HOME, XDG_DATA_HOME and CONSTELLATIONS_STORE point into the
case's directory, so nothing outside it is touched.
"""
from __future__ import annotations

import gc
import hashlib
import importlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import REPO

EXAMPLES = int(os.environ.get("CONSTELLATIONS_FUZZ_EXAMPLES", "25"))
SUBPROCESS = os.environ.get("CONSTELLATIONS_FUZZ_SUBPROCESS") == "1"
# A hang, not a timing: the slowest case takes a few seconds on an idle machine, and a hang (say a huge
# --restarts without a time limit that the CLI failed to refuse) never ends; under load (every core
# busy, the suite's other workers included) a case may take many times longer, so the bound is generous.
TIMEOUT = 300.0  # seconds per run before it counts as a hang
GRACE = 60.0  # seconds allowed between SIGINT and exit
# No shrinking: a failing run is reported as found (with its argv), within the time budget.
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=os.environ.get("CONSTELLATIONS_FUZZ_RANDOM") != "1",
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])

# ------------------------------------------------------------------------------------ value pools

SPECIAL_NUMBERS = ["0", "-0", "-1", "-7", "1e9", "1e999", "-1e999", "nan", "NaN", "inf", "-inf", "1.5", "0.5",
                   "0x10", "", " ", "1_000", "99999999999999999999", "1e-320", "5e-324", "1e308", "abc", "\u0663",
                   "3\u00a0", "+2", "2.0", "1e3"]
EXPLOITS = ["__import__('os').system('touch PWNED')", "os:system", "os:getcwd", "$(touch PWNED)", "`touch PWNED`",
            "; touch PWNED", "../../../../etc/passwd", "/dev/zero", "/dev/stdin", "{0.__class__}", "%s%s%n",
            "A" * 3000, "1/0", "sqrt(-1)", "exp(1000)", "1/sqrt(5)", "eval('1')", "lambda: 0", "\n", "\u00e9",
            "0-1,1-2,2-99", "0-0", "-", ":", "::", "1:0", "0:10**18", "2:1000000000:1", "1,1", "8:32:0"]
GRAPHS = ["complete", "star", "0-1", "0-1,1-2", "1-0", "0-2", "0-5", "nonsense", "0-1,0-1", ""]
OUTPUTS = ["out.npz", "out.txt", "out.json", "out.csv", "out.md", "out.png", "nodir/out.npz", "/proc/out.npz", ".",
           "", "sub", "in.npz", "A" * 300 + ".npz", "d" * 300 + "/out.npz", "out.xlsx"]


class V:
    """An option value: a plausible strategy, and the hostile values mixed in for hostile cases."""

    def __init__(self, plausible, hostile=None):
        self.plausible = plausible
        self.hostile = st.one_of(plausible, hostile) if hostile is not None else plausible


# Worker counts: "auto" or at most the cores (one process in these cases); absurd counts exit 2 at once.
WORKER_COUNTS = V(st.sampled_from(["1", "auto"]), st.sampled_from(["100000", "0", "-1", "x", "1.5", "1e9"]))
HOSTILE_NUMBER = st.one_of(st.sampled_from(SPECIAL_NUMBERS), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                           st.sampled_from(EXPLOITS), st.text(max_size=8))


def small_int(lo=-2, hi=8):
    return st.integers(lo, hi).map(str)


def number(lo=-2, hi=8):
    """A number option: small integers, or (hostile) special, float and garbage text."""
    return V(small_int(lo, hi), HOSTILE_NUMBER)


def real(lo=-2.0, hi=2.0):
    return V(st.floats(lo, hi).map(repr), HOSTILE_NUMBER)


def text(pool):
    return V(st.sampled_from(pool), st.one_of(st.sampled_from(EXPLOITS), st.text(max_size=12)))


def choice(pool):
    return V(st.sampled_from(pool))


# ------------------------------------------------------------------------------------ input files

def _unit(rng, *shape):
    X = rng.standard_normal(shape)
    return X / np.linalg.norm(X, axis=-1, keepdims=True)


def _lying_npz(path, shape):
    from numpy.lib import format as npformat
    buf = io.BytesIO()
    npformat.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("X.npy", buf.getvalue() + b"\0" * 64)


FILE_KINDS = ["good", "constellation", "tie", "good_uv", "good_labels", "nan", "inf", "rank2", "rank4", "mismatch_n", "mismatch_d", "n1",
              "m1", "zero_row", "non_unit", "int", "complex", "bool", "object", "garbage", "truncated", "lying",
              "empty_zip", "bad_meta", "bad_graph", "bad_labels", "huge_values", "tiny_values", "empty", "missing",
              "directory"]


def make_file(path: Path, kind: str, data: bytes, seed: int) -> None:
    """Create the input file ``path`` of the given kind (``missing`` creates nothing)."""
    rng = np.random.default_rng(seed)
    X = _unit(rng, 2, 6, 3)
    if kind == "good":
        np.savez(path, X=X)
    elif kind == "constellation":  # the icosahedron, tied: m = (1 - 1/sqrt 5)/2
        from constellations.codes.constructions import icosahedron_code
        np.savez(path, X=np.stack([icosahedron_code()] * 2))
    elif kind == "tie":  # margin exactly 0: undecided in float64
        P = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
        np.savez(path, X=np.stack([P, P]))
    elif kind == "good_uv":
        np.savez(path, U=X[0], V=X[1])
    elif kind == "good_labels":
        np.savez(path, X=X, labels=np.array([0, 0, 1, 1, 2, 2]))
    elif kind in ("nan", "inf"):
        X[1, 2, 0] = np.nan if kind == "nan" else np.inf
        np.savez(path, X=X)
    elif kind == "rank2":
        np.savez(path, X=X[0])
    elif kind == "rank4":
        np.savez(path, X=X[None])
    elif kind == "mismatch_n":
        np.savez(path, U=X[0], V=X[1, :4])
    elif kind == "mismatch_d":
        np.savez(path, U=X[0], V=_unit(rng, 6, 4))
    elif kind == "n1":
        np.savez(path, X=X[:, :1])
    elif kind == "m1":
        np.savez(path, X=X[:1])
    elif kind == "zero_row":
        X[0, 3] = 0
        np.savez(path, X=X)
    elif kind == "non_unit":
        np.savez(path, X=3 * X)
    elif kind == "int":
        np.savez(path, X=np.ones((2, 4, 3), dtype=np.int64))
    elif kind == "complex":
        np.savez(path, X=X.astype(complex))
    elif kind == "bool":
        np.savez(path, X=X > 0)
    elif kind == "object":
        np.savez(path, X=np.array([1, "a", None], dtype=object))
    elif kind == "garbage":
        path.write_bytes(data)
    elif kind == "truncated":
        np.savez(path, X=X)
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) * (seed % 97 + 1) // 100])
    elif kind == "lying":
        _lying_npz(path, (2, 10 ** 6, 10 ** 6))
    elif kind == "empty_zip":
        with zipfile.ZipFile(path, "w"):
            pass
    elif kind == "bad_meta":
        np.savez(path, X=X, meta=np.array("{not json"))
    elif kind == "bad_graph":
        np.savez(path, X=X, graph=np.array("0-7,zz"))
    elif kind == "bad_labels":
        np.savez(path, X=X, labels=np.array(["a", "b"]))
    elif kind == "huge_values":
        np.savez(path, X=X * 1e300)
    elif kind == "tiny_values":
        np.savez(path, X=X * 1e-310)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "directory":
        path.mkdir()


input_file = st.tuples(st.one_of(st.sampled_from(["good", "constellation", "tie", "good_uv", "good_labels"]),
                                 st.sampled_from(FILE_KINDS)),
                       st.binary(max_size=200), st.integers(0, 10 ** 6))

# ------------------------------------------------------------------------------------ running


@dataclass
class Run:
    argv: list
    code: int | None  # None: killed after the time bound
    stdout: str
    stderr: str
    seconds: float
    interrupted: bool


def _env(case: Path) -> dict:
    env = dict(os.environ)
    env.update(HOME=str(case / "home"), XDG_DATA_HOME=str(case / "home" / "data"),
               CONSTELLATIONS_STORE=str(case / "home" / "store.sqlite"), MPLBACKEND="Agg", COLUMNS="100")
    env.pop("CONSTELLATIONS_FUZZ_EXAMPLES", None)
    return env


def _child(argv, case: Path, out: Path, err: Path, ready: int) -> None:
    """In the forked child: run the entry point with the case's directory, environment and files.

    SIGINT is blocked (inherited mask) until the child is set up; a byte on ``ready`` tells the
    parent that main() is about to start, so an interrupt lands in the command, not in this harness.
    """
    code = 99
    try:
        os.chdir(case)
        os.environ.clear()
        os.environ.update(_env(case))
        fo, fe = os.open(out, os.O_WRONLY | os.O_CREAT), os.open(err, os.O_WRONLY | os.O_CREAT)
        nul = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nul, 0)
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        sys.stdin = open(0, closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        gc.callbacks.clear()  # the test runner's hooks (hypothesis times GC) would swallow a Ctrl-C
        from constellations.cli.main import main
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        os.write(ready, b"1")
        os.close(ready)
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 98)
    except BaseException:  # noqa: BLE001 - anything escaping main is a finding
        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_case(argv, case: Path, interrupt_after: float | None = None) -> Run:
    out, err = case.parent / f"{case.name}.out", case.parent / f"{case.name}.err"
    out.write_bytes(b"")
    err.write_bytes(b"")
    t0 = time.monotonic()
    started = None  # when main() started (fork mode) or the process (subprocess mode)
    if SUBPROCESS:
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen([sys.executable, "-m", "constellations.cli.main", *argv], cwd=case,
                                 env={**_env(case), "PYTHONPATH": str(REPO / "src")}, stdin=subprocess.DEVNULL,
                                 stdout=fo, stderr=fe)
        pid, started, ready = p.pid, t0 + 3.0, None  # + imports: Ctrl-C during imports is Python's, not ours
    else:
        sys.stdout.flush()
        sys.stderr.flush()
        ready, ready_w = os.pipe()
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        pid = os.fork()
        if pid == 0:
            os.close(ready)
            _child(argv, case, out, err, ready_w)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
        os.close(ready_w)
        os.set_blocking(ready, False)
    status, sent = None, False
    while status is None:
        done, st_ = os.waitpid(pid, os.WNOHANG)
        if done:
            status = st_
            break
        if started is None:
            try:
                if os.read(ready, 1):
                    started = time.monotonic()
            except BlockingIOError:
                pass
        now = time.monotonic() - t0
        if (interrupt_after is not None and not sent and started is not None
                and time.monotonic() - started > interrupt_after):
            os.kill(pid, signal.SIGINT)
            sent = True
        if now > TIMEOUT + (GRACE if sent else 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            break
        time.sleep(0.01)
    if ready is not None:
        os.close(ready)
    code = None if status is None else os.waitstatus_to_exitcode(status)
    return Run(list(argv), code, out.read_text(errors="replace"), err.read_text(errors="replace"),
               time.monotonic() - t0, sent)


def _snapshot(case: Path) -> dict:
    return {p.relative_to(case): (hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir")
            for p in case.rglob("*")}


def check(run: Run, before: dict, after: dict, *, ok_codes=(0, 1), store_ok=False) -> None:
    what = f"argv={run.argv!r}\nexit={run.code}\nstdout={run.stdout[-2000:]!r}\nstderr={run.stderr[-2000:]!r}"
    assert run.code is not None, f"no exit within {TIMEOUT:.0f} s\n{what}"
    allowed = set(ok_codes) | {2} | ({130} if run.interrupted else set())
    assert run.code in allowed, what
    assert "Traceback" not in run.stderr, what
    if run.code == 2:
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("constellations: error: "), what
    if run.code == 130:
        assert "constellations: interrupted" in run.stderr, what
    assert not [p for p in after if str(p).endswith((".tmp", ".probe"))], f"temporary file left\n{what}"
    assert Path("PWNED") not in after, f"an argument was executed\n{what}"
    changed = [p for p in before if before[p] != after.get(p) and not (store_ok and ".sqlite" in str(p))]
    assert not changed, f"input files changed or removed: {changed}\n{what}"
    new = [p for p in after if p not in before and p.parts[0] != "home" and after[p] != "dir"]
    if store_ok:
        new = [p for p in new if not str(p).endswith((".sqlite", ".sqlite-journal", ".sqlite-wal", ".sqlite-shm"))]
    if run.code == 2:
        assert not new, f"output written although the run failed: {new}\n{what}"


WARM_MODULES = ["torch", "scipy.optimize", "scipy.linalg", "cvxpy", "clarabel", "numba", "mpmath", "sympy", "flint",
                "constellations.analysis.paired", "constellations.objective.losses", "constellations.training.trainer",
                "constellations.search", "constellations.search.polish", "constellations.training.reproduce",
                "constellations.bounds", "constellations.bounds.constellation",
                "constellations.tables.runner", "constellations.tables.store", "sqlite3"]


@pytest.fixture(scope="module", autouse=True)
def warm_imports():
    """Import every command once in the test process, so forked runs start warm."""
    if not SUBPROCESS:
        from constellations.cli.main import COMMANDS
        for module, _ in COMMANDS.values():
            importlib.import_module(module)
        # what the commands import lazily (each forked run would pay for it again)
        for module in WARM_MODULES:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
    yield


@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="constellations-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


_counter = iter(range(10 ** 9))


def new_case(workdir: Path, files=(), copies=()) -> Path:
    case = workdir / f"case{next(_counter)}"
    (case / "home").mkdir(parents=True)
    (case / "sub").mkdir()
    for name, (kind, data, seed) in files:
        make_file(case / name, kind, data, seed)
    for src, name in copies:
        shutil.copyfile(src, case / name)
    return case


def options(required=(), **spec):
    """Strategy for command-line words.  Each option of ``spec`` is included or not (those named in
    ``required`` always are), with plausible values; in a hostile case (a quarter of them) hostile
    values are mixed in and required options may be left out."""
    def build(hostile):
        parts = []
        for key, value in spec.items():
            flag = key if key.startswith("-") else "--" + key.replace("_", "-")
            if value is None:
                parts.append(st.sampled_from([[], [flag]]))
                continue
            word = (value.hostile if hostile else value.plausible).map(lambda x, f=flag: [f, x])
            parts.append(word if key in required and not hostile else st.one_of(st.just([]), word))
        return st.tuples(*parts).map(lambda ls: [w for part in ls for w in part])
    return st.booleans().flatmap(lambda coin: st.booleans().flatmap(lambda coin2: build(coin and coin2)))


def out(*plausible):
    """An output path: the right kind of name, or (hostile) any of OUTPUTS."""
    return V(st.sampled_from(plausible), st.sampled_from(OUTPUTS))


interrupt = st.one_of(st.none(), st.none(), st.none(), st.floats(0.05, 1.5))


def fuzz(workdir, argv, files=(), copies=(), interrupt_after=None, **kw):
    case = new_case(workdir, files, copies)
    before = _snapshot(case)
    run = run_case(argv, case, interrupt_after)
    if os.environ.get("CONSTELLATIONS_FUZZ_LOG"):  # to see what the cases exercised
        with open(os.environ["CONSTELLATIONS_FUZZ_LOG"], "a") as log:
            log.write(f"{run.code}\t{run.seconds:.2f}\t{[f[1][0] for f in files]}\t{argv!r}\t"
                      f"{run.stderr.strip()[-150:]!r}\n")
    check(run, before, _snapshot(case), **kw)
    return run


# ------------------------------------------------------------------------------------ per command

KINDS = ["simplex", "cross-polytope", "polygon", "icosahedron", "24-cell", "600-cell", "e8", "clebsch", "schlafli",
         "gosset", "random", "lift", "modality-simplex", "adapters", "E8", "nonsense"]


def _other_kinds():
    from constellations.codes import constructions
    return sorted(set(constructions.KINDS) - set(KINDS))


NATIVE_DIM = {"simplex": 1, "cross-polytope": 1, "polygon": 2, "icosahedron": 3, "24-cell": 4, "600-cell": 4, "e8": 8,
              "clebsch": 5, "schlafli": 6, "gosset": 7, "random": 1, "lift": 3, "modality-simplex": 2,
              "adapters": 2}


@st.composite
def construct_words(draw):
    """A plausible construct command line (sizes that fit the kind), or parts of it made hostile."""
    kind = draw(st.one_of(st.sampled_from(KINDS), st.sampled_from(KINDS + _other_kinds())))
    dim = NATIVE_DIM.get(kind, 2) + draw(st.integers(0, 2))
    words = [kind, "--dim", str(dim)]
    if kind in ("simplex", "lift", "modality-simplex", "adapters"):
        words += ["--n", str(draw(st.integers(2, max(2, dim - 1))))]
    elif kind in ("polygon", "random", "cross-polytope"):
        words += ["--n", str(draw(st.integers(2, 2 * dim if kind == "cross-polytope" else 40)))]
    if kind == "modality-simplex":
        words += ["-M", str(draw(st.integers(2, 3)))]
    words += draw(options(modalities=number(2, 4) if NATIVE_DIM.get(kind, 0) and kind not in (
                              "modality-simplex", "lift", "adapters") else V(st.just("2")),
                          graph=text(GRAPHS), delta=real(0.05, 0.95), phi=real(0, 0.3), seed=number(0, 9),
                          json=None, output=out("out.npz", "out.npz")))
    if "--output" not in words:
        words += ["-o", "out.npz"]
    return words


@FUZZ
@given(construct_words(), st.one_of(st.just([]), st.just([]), st.just([]),
                                    options(dim=number(2, 9), n=number(2, 30), base=text(KINDS[:11]))), interrupt)
def test_fuzz_construct(workdir, words, extra, intr):
    # extra options come last and win (click keeps the last value): a partly hostile command line
    fuzz(workdir, ["construct", *words, *extra], interrupt_after=intr)


claim = st.one_of(st.just([]), st.tuples(real(0, 0.5).plausible, real(-1, 1).plausible).map(
    lambda mb: ["--margin", mb[0], "--b-rel", mb[1]]),
    st.tuples(st.sampled_from(["1/4", "0.25", "(1+sqrt(5))/8", "1/0", "sqrt(-1)", "1e999"]),
              st.sampled_from(["3/4", "1/2", "-1/3"])).map(lambda mb: ["--margin", mb[0], "--b-rel", mb[1]]))


@FUZZ
@given(input_file, claim, options(graph=text(GRAPHS), margin=real(-1, 1), normalize=None, exact=None,
                                  no_retrieval=None, json=None, output=out("rep.json")), interrupt)
def test_fuzz_verify(workdir, f, c, opts, intr):
    fuzz(workdir, ["verify", "in.npz", *c, *opts], files=[("in.npz", f)], interrupt_after=intr, ok_codes=(0, 1, 3))


@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))  # each example runs a search: the suite's slowest test
@given(options(required=("n", "dim", "restarts"), n=number(2, 10), dim=number(1, 4), modalities=number(2, 3),
               graph=text(GRAPHS), tied=None, restarts=V(small_int(1, 2), HOSTILE_NUMBER),
               time_limit=real(0.05, 2), seed=number(0, 9), backend=V(st.just("numpy"), st.sampled_from(["auto", "numba", "torch", "x"])),
               jobs=WORKER_COUNTS,
               init=choice(["in.npz", "in.npz", "missing.npz", "sub"]), output=out("best.npz"), json=None),
       input_file, interrupt)
def test_fuzz_search(workdir, opts, f, intr):
    fuzz(workdir, ["search", "--quiet", *opts], files=[("in.npz", f)], interrupt_after=intr)


BOUNDS_MODES = st.sampled_from([["--n", "--dim"], ["--n", "--margin"], ["--n", "--dim", "--b-rel"],
                                ["--codes", "--dim", "--max-ip"], ["--n", "--dim", "--sdp"]])
BOUNDS_VALUES = {"--n": V(st.one_of(small_int(2, 300), st.sampled_from(["1024", "2048", "300", "1000"])), HOSTILE_NUMBER),
                 "--dim": V(st.one_of(small_int(1, 10), st.sampled_from(["1", "512", "1024"])), HOSTILE_NUMBER), "--margin": real(-0.1, 1.1),
                 "--b-rel": real(-1.1, 1.1), "--max-ip": V(st.sampled_from(["0.5", "1/2", "1/sqrt(5)", "-1/3", "0"]),
                                                           HOSTILE_NUMBER)}


@FUZZ
@given(BOUNDS_MODES, st.data(), options(method=choice(["levenshtein", "levenshtein", "delsarte"]), json=None), interrupt)
def test_fuzz_bounds(workdir, mode, data, opts, intr):
    argv = []
    for flag in mode:
        argv += [flag] if flag in ("--codes", "--sdp") else [flag, data.draw(BOUNDS_VALUES[flag].hostile)]
    if "--sdp" in mode or "delsarte" in opts:  # the slow methods on small sizes only (click keeps the last value)
        argv += ["--n", "5"] if "--n" in mode else []
        argv += ["--dim", "3"] if "--dim" in mode else []
    fuzz(workdir, ["bounds", *argv, *opts], interrupt_after=intr)


@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))
@given(options(required=("n", "dim", "steps"), n=number(2, 6), dim=number(1, 4), modalities=number(2, 3),
               graph=text(GRAPHS), t0=real(0, 20), b_rel0=real(-1, 1), fix_t=None, fix_bias=None,
               frozen=number(0, 1), adapter=None, delta0=real(0.05, 0.95), init=choice(["in.npz", "missing.npz"]),
               optimizer=choice(["adam", "sgd"]), lr=real(1e-4, 0.5),
               steps=V(small_int(0, 20), st.sampled_from(["1e12", "1e30", "-1"])), seeds=text(["1", "2", "0,1", "1:3"]),
               reduction=choice(["sum", "mean"]), record_every=V(small_int(1, 5)), loss_every=V(small_int(1, 5)),
               threads=WORKER_COUNTS,
               dtype=choice(["float32", "float64"]), output=out("run.npz"), history=out("h.csv"), json=None),
       input_file, interrupt)
def test_fuzz_train(workdir, opts, f, intr):
    fuzz(workdir, ["train", "--quiet", *opts], files=[("in.npz", f)], interrupt_after=intr)


@settings(FUZZ, max_examples=max(1, EXAMPLES // 8))
@given(st.sampled_from(["fixed-brel", "init-grid", "modalities", "bias", "all", "bogus"]),
       options(required=("n", "dim", "seeds", "steps"), n=number(2, 5), dim=number(1, 3),
               seeds=text(["1", "2", "0,1"]), steps=V(small_int(0, 3)), lr=real(1e-4, 0.5), t0=real(0, 20),
               b_rel0=real(-1, 1), reduction=choice(["sum", "mean"]), output=out("sub", "sub", "nodir", "out.md"),
               json=None), interrupt)
def test_fuzz_reproduce(workdir, study, opts, intr):
    fuzz(workdir, ["reproduce", study, *opts], interrupt_after=intr)


@FUZZ
@given(input_file, options(graph=text(GRAPHS), no_labels=None, percentiles=text(["5,95", "0,100", "50,50", "95,5"]),
                           no_gap=None, json=None, seed=V(st.sampled_from(["0", "3"]), st.sampled_from(["-1", "x", "1e30"]))),
       interrupt)
def test_fuzz_analyze(workdir, f, opts, intr):
    fuzz(workdir, ["analyze", "in.npz", *opts], files=[("in.npz", f)], interrupt_after=intr)


TABLE_SPECS = ["2", "3", "2,3", "2:4", "3:3", "0", "1", "-2", "2:1000000000", "2:10**9", "4:2", "2:8:0", "x", ""]
TABLE_FILTERS = dict(n=text(TABLE_SPECS), dims=text(TABLE_SPECS), modalities=text(TABLE_SPECS),
                     graph=text(GRAPHS), tied=None, no_tied=None, json=None)
TABLE_OPTS = {
    "run": options(required=("n", "dims"), n=text(["2", "3", "2,3", "3:4"]), dims=text(["1", "2", "2:3"]),
                   modalities=text(["2", "3", "2,3"]), tied=None, tied_only=None,
                   restarts=V(small_int(1, 2), HOSTILE_NUMBER), time_per_cell=real(0.1, 2), seed=number(0, 9),
                   solver=choice(["construction", "construction", "search", "search-no-polish"]),
                   format=choice(["md", "csv", "json"]), output=out("t.md", "t.csv", "t.json"), json=None),
    "show": options(**TABLE_FILTERS, format=choice(["md", "csv", "json"]), columns=choice(["m", "n"]),
                    digits=number(1, 17), output=out("t.md", "t.csv", "t.json"), plot=out("p.png")),
    "verify": options(**TABLE_FILTERS),
    "export": options(required=("n", "dim", "output"), n=number(3, 4), dim=number(2, 3), modalities=number(2, 3),
                      graph=text(GRAPHS), tied=None, output=out("cell.npz"), json=None),
    "bogus": options(n=number()),
}


@pytest.fixture(scope="module")
def seeded_store(workdir):
    """A store holding a few computed cells (N = 3, 4; d = 2, 3; M = 2, 3 and tied)."""
    case = new_case(workdir)
    run = run_case(["table", "run", "--n", "3,4", "--dims", "2:3", "-M", "2,3", "--tied", "--solver", "construction",
                    "--workers", "1", "--store", "seed.sqlite"], case)
    assert run.code == 0, run.stderr
    return case / "seed.sqlite"


@FUZZ
@given(st.sampled_from(["run", "run", "show", "show", "verify", "export", "export", "bogus"]), st.data(),
       st.sampled_from(["store.sqlite"] * 6 + ["fresh.sqlite", "nodir/store.sqlite", "sub", "in.npz"]), input_file, interrupt)
def test_fuzz_table(workdir, seeded_store, sub, data, store, f, intr):
    opts = data.draw(TABLE_OPTS[sub])
    if sub == "run" and "--solver" not in opts:
        opts += ["--solver", "construction"]
    fuzz(workdir, ["table", sub, "--store", store, *(["--workers", "1"] if sub == "run" else []), *opts],
         files=[("in.npz", f)], copies=[(seeded_store, "store.sqlite")], interrupt_after=intr, store_ok=True)
