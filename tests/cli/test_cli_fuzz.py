"""Property-based fuzzing of every command's arguments and input files.

For random option values (numbers including nan/inf/negative/huge, garbage text, injection
strings) and random input files (garbage bytes, truncated or lying archives, NaN, wrong shapes,
mismatched N, pickled objects; text coordinate files with bad tokens, ragged rows and lying
headers; tampered training checkpoints; model files of ``analyze --tb``) every run of the real entry point
(:func:`constellations.cli.main.main`) must

- end within a time bound with exit status 0, 1, 2 or 130 (verify also 3: undecided in float64);
- never show a traceback; on exit 2 print exactly one line, ``constellations: error: ...``;
- on Ctrl-C (SIGINT, sent to some runs) exit 130 saying ``constellations: interrupted``;
- leave no temporary file, no output on exit 2, input files unchanged (a checkpoint that ``train
  --resume`` continues may be rewritten, except on exit 2), and nothing executed (a canary file
  PWNED would be created by any evaluated injection string).

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
import json
import math
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
from hypothesis import HealthCheck, Phase, example, given, settings
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


#: Text coordinate files (io/coordinates.py): the layouts read, and what must be refused in one line.
TEXT_KINDS = ["text_rows", "text_csv", "text_lai", "text_sloane", "text_index", "text_bom_crlf", "text_nan",
              "text_overflow", "text_hex", "text_ragged", "text_lying_header", "text_bad_theta", "text_non_unit",
              "text_duplicate", "text_one_point", "text_zero_row", "text_empty_field", "text_comments_only",
              "text_wide", "garbage", "empty", "missing", "directory"]


def _text_code(path: Path, kind: str, rng) -> None:
    """A text coordinate file of ``kind`` (TEXT_KINDS): 6 points of S^2, written as the code tables do."""
    P = _unit(rng, 6, 3)
    rows = [" ".join(repr(float(x)) for x in p) for p in P]
    G = P @ P.T
    np.fill_diagonal(G, -1)
    D = math.sqrt(max(0.0, 2 - 2 * G.max()))
    text = {"text_rows": rows, "text_csv": [r.replace(" ", ", ") for r in rows],
            "text_lai": [f"6 {D:.12f} {math.degrees(2 * math.asin(D / 2)):.12f}"]
                        + [f"{i} " + " ".join(f"{x:.12f}" for x in p) for i, p in enumerate(P)],
            "text_sloane": [repr(float(x)) for x in P.ravel()],
            "text_index": [f"{i + 1} {r}" for i, r in enumerate(rows)],
            "text_nan": rows[:3] + ["nan 0 1"] + rows[4:], "text_overflow": rows[:5] + ["1e999 0 0"],
            "text_hex": rows[:5] + ["0x10 0 0"], "text_ragged": rows[:5] + ["0.5 0.5"],
            "text_lying_header": ["9 3"] + rows, "text_bad_theta": ["6 0.5 120"] + rows,
            "text_non_unit": [" ".join(repr(3 * float(x)) for x in p) for p in P],
            "text_duplicate": rows + rows[:1], "text_one_point": rows[:1], "text_zero_row": rows[:5] + ["0 0 0"],
            "text_empty_field": rows[:5] + ["0.5,,0.5"], "text_comments_only": ["# N = 6", "", "# nothing"],
            "text_wide": [" ".join(["0.01"] * 4000)] * 2, "text_bom_crlf": ["\ufeff# BOM and CRLF"] + rows}[kind]
    path.write_bytes(("\r\n" if kind == "text_bom_crlf" else "\n").join(text).encode() + b"\n")


#: ``analyze --tb`` files: a JSON object or an .npz archive of scalars (t or logit_scale, bias or logit_bias).
TB_KINDS = ["tb_t", "tb_logit", "tb_both_t", "tb_no_bias", "tb_array", "tb_vector", "tb_string", "tb_bool",
            "tb_nan", "tb_huge", "tb_negative_t", "tb_bad_json", "tb_complex", "garbage", "missing", "directory"]
_TB_VALUES = {"tb_t": {"t": 10.0, "bias": -10.0}, "tb_logit": {"logit_scale": 2.302585, "logit_bias": -10.0},
              "tb_both_t": {"t": 10.0, "log_t": 2.3, "bias": -10.0}, "tb_no_bias": {"t": 10.0},
              "tb_vector": {"t": [1.0, 2.0], "bias": 0.0}, "tb_string": {"t": "10", "bias": -10.0},
              "tb_bool": {"t": True, "bias": 0.0}, "tb_nan": {"t": float("nan"), "bias": 0.0},
              "tb_huge": {"t": 1e308, "bias": -1e308}, "tb_negative_t": {"t": -1.0, "bias": 0.0},
              "tb_complex": {"t": 1 + 2j, "bias": 0.0}}


def _tb_file(path: Path, kind: str) -> None:
    if kind == "tb_array" and path.suffix == ".json":
        path.write_text("[10, -10]")
    elif kind == "tb_array":
        np.savez(path, t=np.ones((2, 2)), bias=np.zeros(3))
    elif kind == "tb_bad_json":
        path.write_text('{"t": 10, "bias": ')
    elif path.suffix == ".json":
        path.write_text(json.dumps({k: (str(v) if isinstance(v, complex) else v) for k, v in _TB_VALUES[kind].items()}))
    else:
        np.savez(path, **{k: np.asarray(v) for k, v in _TB_VALUES[kind].items()})


def make_file(path: Path, kind: str, data: bytes, seed: int) -> None:
    """Create the input file ``path`` of the given kind (``missing`` creates nothing)."""
    rng = np.random.default_rng(seed)
    if kind.startswith("text_"):
        return _text_code(path, kind, rng)
    if kind.startswith("tb_"):
        return _tb_file(path, kind)
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
text_file = st.tuples(st.one_of(st.sampled_from(["text_rows", "text_csv", "text_lai", "text_sloane"]),
                                st.sampled_from(TEXT_KINDS)),
                      st.binary(max_size=200), st.integers(0, 10 ** 6))
#: (name, file): an .npz archive, or a text code under one of the names it may have (pack.3.6.txt: d = 3, N = 6)
any_input = st.one_of(input_file.map(lambda f: ("in.npz", f)),
                      st.tuples(st.sampled_from(["in.txt", "in.csv", "in.dat", "pack.3.6.txt"]), text_file))
tb_kind = st.one_of(st.sampled_from(["tb_t", "tb_logit"]), st.sampled_from(TB_KINDS))
tb_files = st.tuples(tb_kind, tb_kind).map(
    lambda k: [("tb.json", (k[0], b"\x00{", 0)), ("tb.npz", (k[1], b"PK\x03", 0))])

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


def check(run: Run, before: dict, after: dict, *, ok_codes=(0, 1), store_ok=False, may_change=()) -> None:
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
    changed = [p for p in before if before[p] != after.get(p) and not (store_ok and ".sqlite" in str(p))
               and not (run.code != 2 and str(p) in may_change)]  # a resumed checkpoint moves on
    assert not changed, f"input files changed or removed: {changed}\n{what}"
    new = [p for p in after if p not in before and p.parts[0] != "home" and after[p] != "dir"]
    if store_ok:
        new = [p for p in new if not str(p).endswith((".sqlite", ".sqlite-journal", ".sqlite-wal", ".sqlite-shm"))]
    if run.code == 2:
        assert not new, f"output written although the run failed: {new}\n{what}"


# torch._dynamo: the first optimiser step imports it (1.3 s, in every forked training run unless warm here)
WARM_MODULES = ["torch", "torch._dynamo",
                "scipy.optimize", "scipy.linalg", "cvxpy", "clarabel", "numba", "mpmath", "sympy", "flint",
                "constellations.analysis.paired", "constellations.objective.losses", "constellations.training.trainer",
                "constellations.search", "constellations.search.polish", "constellations.training.reproduce",
                "constellations.bounds", "constellations.bounds.constellation",
                "constellations.tables.runner", "constellations.tables.store", "sqlite3",
                "matplotlib.figure", "matplotlib.backends.backend_agg"]  # analyze --report's figures


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
              "adapters": 2, "spiral": 3, "torus": 4}


@st.composite
def construct_words(draw):
    """A plausible construct command line (sizes that fit the kind), or parts of it made hostile."""
    kind = draw(st.one_of(st.sampled_from(KINDS), st.sampled_from(KINDS + _other_kinds()),
                          st.sampled_from(["spiral", "torus"])))
    dim = NATIVE_DIM.get(kind, 2) + draw(st.integers(0, 2))
    words = [kind, "--dim", str(dim)]
    if kind in ("simplex", "lift", "modality-simplex", "adapters"):
        words += ["--n", str(draw(st.integers(2, max(2, dim - 1))))]
    elif kind in ("polygon", "random", "cross-polytope", "spiral", "torus"):
        words += ["--n", str(draw(st.integers(2, 2 * dim if kind == "cross-polytope" else 40)))]
    if kind == "modality-simplex":
        words += ["-M", str(draw(st.integers(2, 3)))]
    words += draw(options(modalities=number(2, 4) if NATIVE_DIM.get(kind, 0) and kind not in (
                              "modality-simplex", "lift", "adapters") else V(st.just("2")),
                          graph=text(GRAPHS), delta=real(0.05, 0.95), phi=real(0, 0.3), seed=number(0, 9),
                          json=None, output=out("out.npz", "out.npz", "out.txt", "out.csv")))
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
@given(any_input, claim, options(graph=text(GRAPHS), margin=real(-1, 1), normalize=None, exact=None, dim=number(1, 4),
                                 no_retrieval=None, json=None, output=out("rep.json")), interrupt)
def test_fuzz_verify(workdir, f, c, opts, intr):
    name, spec = f  # an .npz archive or a text code (pack.3.6.txt: one number per line needs d)
    fuzz(workdir, ["verify", name, *c, *opts], files=[(name, spec)], interrupt_after=intr, ok_codes=(0, 1, 3))


@settings(FUZZ, max_examples=max(1, EXAMPLES // 2))  # each example runs a search: the suite's slowest test
@given(options(required=("n", "dim", "restarts"), n=number(2, 10), dim=number(1, 4), modalities=number(2, 3),
               graph=text(GRAPHS), tied=None, restarts=V(small_int(1, 2), HOSTILE_NUMBER),
               time_limit=real(0.05, 2), seed=number(0, 9), backend=V(st.just("numpy"), st.sampled_from(["auto", "numba", "torch", "x"])),
               jobs=WORKER_COUNTS,
               init=choice(["in.npz", "in.npz", "in.txt", "missing.npz", "sub"]), output=out("best.npz", "best.txt"),
               json=None),
       input_file, interrupt, text_file)
# a text code in and out (one worker: no pool to start), whatever the draws
@example(["--n", "6", "--dim", "3", "--tied", "--restarts", "1", "--backend", "numpy", "--jobs", "1",
          "--init", "in.txt", "-o", "best.txt"], ("good", b"", 0), None, ("text_lai", b"", 1))
def test_fuzz_search(workdir, opts, f, intr, t):
    fuzz(workdir, ["search", "--quiet", *opts], files=[("in.npz", f), ("in.txt", t)], interrupt_after=intr)


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
               threads=WORKER_COUNTS, batch_size=number(1, 6), checkpoint=out("ck.npz"),
               checkpoint_every=number(0, 4), resume=None,
               dtype=choice(["float32", "float64"]), output=out("run.npz"), history=out("h.csv"), json=None),
       input_file, interrupt)
def test_fuzz_train(workdir, opts, f, intr):
    fuzz(workdir, ["train", "--quiet", *opts], files=[("in.npz", f)], interrupt_after=intr)


#: The run that wrote the seeded checkpoint (resuming it with these options and more --steps continues it).
CHECKPOINT_RUN = ["--n", "3", "--dim", "2", "--seeds", "1,2", "--checkpoint", "ck.npz"]
CHECKPOINT_STEPS = 4
#: Values a tampered checkpoint's meta (or spec) field gets.
META_VALUES = [None, -1, 0, 10 ** 30, "x", [], {}, 1.5, True, float("nan"), 2, "constellations-train-checkpoint"]
ARRAY_MUTATIONS = ["drop", "nan", "inf", "shape", "scalar", "complex", "int", "float", "huge", "negative", "empty"]


@pytest.fixture(scope="module")
def seeded_checkpoint(workdir):
    """A training checkpoint at step CHECKPOINT_STEPS (N = 3, d = 2, seeds 1 and 2)."""
    case = new_case(workdir)
    run = run_case(["train", "--quiet", *CHECKPOINT_RUN, "--steps", str(CHECKPOINT_STEPS)], case)
    assert run.code == 0, run.stderr
    return case / "ck.npz"


def _mutated(a: np.ndarray, how: str):
    """``a`` changed by ``how`` (ARRAY_MUTATIONS), None to drop it."""
    with np.errstate(invalid="ignore"):  # NaN or huge to int: any value will do
        return {"drop": None, "nan": np.full(a.shape, np.nan), "inf": np.full(a.shape, -np.inf),
                "shape": np.zeros(a.shape + (2,), a.dtype), "scalar": np.zeros((), a.dtype),
                "complex": a.astype(complex), "int": a.astype(np.int64), "float": a.astype(np.float64) + 0.5,
                "huge": np.full(a.shape, 1e300), "negative": -np.abs(a.astype(np.float64)) - 7,
                "empty": np.zeros((0,) * max(1, a.ndim), a.dtype)}[how]


def tamper(src: Path, dst: Path, where: int, how: str, value: int) -> None:
    """``dst``: the checkpoint ``src`` with one array changed by ``how``, or (how == "meta") one field of its
    meta or spec set to META_VALUES[value]."""
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    if how == "meta":
        fields = [(meta, k) for k in meta] + [(meta["spec"], k) for k in meta["spec"]]
        d, k = fields[where % len(fields)]
        d[k] = META_VALUES[value % len(META_VALUES)]
        arrays["meta"] = np.array(json.dumps(meta))
    else:
        names = sorted(arrays)  # meta included: a meta that is not text
        k = names[where % len(names)]
        new = _mutated(arrays[k], how) if arrays[k].dtype.kind != "U" else np.array(META_VALUES[value % 6] or 0)
        if new is None:
            del arrays[k]
        else:
            arrays[k] = new
    np.savez(dst, **arrays)


checkpoint_file = st.one_of(st.just(("seeded",)), st.just(("seeded",)),
                            st.tuples(st.just("tampered"), st.integers(0, 60),
                                      st.sampled_from(ARRAY_MUTATIONS + ["meta"] * 4), st.integers(0, 20)),
                            input_file.map(lambda f: ("file", f)))


@settings(FUZZ, max_examples=max(1, EXAMPLES // 4))
@given(checkpoint_file, st.one_of(*[st.sampled_from(["4", "6", "8"])] * 4, st.just("3"), HOSTILE_NUMBER),
       st.one_of(st.just([]), st.just([]), st.just([]),
                 options(batch_size=number(1, 4), checkpoint_every=number(0, 3), lr=real(1e-4, 0.5),
                         record_every=V(small_int(1, 5)), json=None, output=out("run.npz"), resume=None)),
       interrupt)
def test_fuzz_train_resume(workdir, seeded_checkpoint, ck, steps, extra, intr):
    """Resume the seeded checkpoint, a tampered copy or any file, with its own options or others."""
    case_files, copies = [], []
    if ck[0] == "seeded":
        copies = [(seeded_checkpoint, "ck.npz")]
    elif ck[0] == "file":
        case_files = [("ck.npz", ck[1])]
    else:
        tampered = workdir / f"tampered{next(_counter)}.npz"
        tamper(seeded_checkpoint, tampered, *ck[1:])
        copies = [(tampered, "ck.npz")]
    fuzz(workdir, ["train", "--quiet", *CHECKPOINT_RUN, "--steps", steps, "--resume", *extra], files=case_files,
         copies=copies, interrupt_after=intr, may_change=("ck.npz",))


@settings(FUZZ, max_examples=max(1, EXAMPLES // 4))
@given(options(required=("batch_size",),
               batch_size=V(st.lists(st.integers(2, 10 ** 6).map(str), min_size=1, max_size=3).map(",".join),
                            st.one_of(HOSTILE_NUMBER, st.sampled_from(["1", "2,", ",", "2,,3", "1e12", "1e13", "4096,1",
                                                                       ",".join(["2"] * 1001)]))),
               t0=real(0, 30), dim=V(st.sampled_from(["2", "3", "512", "1000000"]), HOSTILE_NUMBER), json=None),
       st.one_of(st.just([]), st.just([]), st.just([]), st.just(["--batch-size", "256"])), interrupt)
def test_fuzz_init_bias(workdir, opts, again, intr):
    fuzz(workdir, ["init-bias", *opts, *again], interrupt_after=intr)


@settings(FUZZ, max_examples=max(1, EXAMPLES // 8))
@given(st.sampled_from(["fixed-brel", "init-grid", "modalities", "bias", "all", "bogus"]),
       options(required=("n", "dim", "seeds", "steps"), n=number(2, 5), dim=number(1, 3),
               seeds=text(["1", "2", "0,1"]), steps=V(small_int(0, 3)), lr=real(1e-4, 0.5), t0=real(0, 20),
               b_rel0=real(-1, 1), reduction=choice(["sum", "mean"]), output=out("sub", "sub", "nodir", "out.md"),
               json=None), interrupt)
def test_fuzz_reproduce(workdir, study, opts, intr):
    fuzz(workdir, ["reproduce", study, *opts], interrupt_after=intr)


#: A SigLIP model for analyze: none, --t/--log-t with --bias, --tb FILE, or (hostile) any mix of them.
MODEL = st.one_of(
    st.just([]),
    st.tuples(real(0.5, 30).plausible, real(-20, 5).plausible).map(lambda tb: ["--t", tb[0], "--bias", tb[1]]),
    st.tuples(real(-1, 4).plausible, real(-20, 5).plausible).map(lambda tb: ["--log-t", tb[0], "--bias", tb[1]]),
    st.sampled_from([["--tb", "tb.json"], ["--tb", "tb.npz"]]),
    options(t=real(0.5, 30), log_t=real(-1, 4), bias=real(-20, 5),
            tb=choice(["tb.json", "tb.npz", "missing.json", "in.npz", "tb.txt", "sub"])))
#: The HTML report (matplotlib figures) in about one case of eight: the slowest option.
REPORT = st.one_of(st.just([]), st.just([]), st.just([]), options(report=out("r.html", "r.html", "sub/r.html")))


@FUZZ
@given(input_file, options(graph=text(GRAPHS), no_labels=None, percentiles=text(["5,95", "0,100", "50,50", "95,5"]),
                           no_gap=None, json=None, seed=V(st.sampled_from(["0", "3"]), st.sampled_from(["-1", "x", "1e30"])),
                           no_fit=None, bins=number(1, 20),
                           recall_k=text(["1", "1,5", "1,5,10", "5,1", "2,2", "0", "7"])),
       MODEL, tb_files, REPORT, interrupt)
# the model from a file and the HTML report, whatever the draws
@example(("good_labels", b"", 0), ["--recall-k", "1,5", "--bins", "3", "--json"], ["--tb", "tb.npz"],
         [("tb.json", ("tb_bad_json", b"", 0)), ("tb.npz", ("tb_logit", b"", 0))], ["--report", "r.html"], None)
def test_fuzz_analyze(workdir, f, opts, model, tb, report, intr):
    fuzz(workdir, ["analyze", "in.npz", *model, *opts, *report], files=[("in.npz", f), *tb], interrupt_after=intr)


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
