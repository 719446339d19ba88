"""CLI: train, analyze and reproduce through the real entry point in a subprocess."""
import csv
import json
import os

import numpy as np
import pytest

from conftest import start_on_a_terminal, run_cli
from constellations.cli.seeds import parse_seeds


def test_train_writes_configuration_history_and_plots(tmp_path):
    out = tmp_path / "run.npz"
    (tmp_path / "plots").mkdir()  # output directories must exist; they are never created
    r = run_cli("train", "--n", 10, "--dim", 3, "--steps", 60, "--seeds", "0,1", "--lr", 0.05, "--dtype", "float64",
                "--record-every", 20, "-o", out, "--plot", tmp_path / "plots", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["steps"] == 60 and len(o["runs"]) == 2 and {x["seed"] for x in o["runs"]} == {0, 1}
    for run in o["runs"]:
        assert run["gap"] == pytest.approx(2 * run["margin"])
    z = np.load(out)
    assert z["X"].shape == (2, 10, 3) and z["X_runs"].shape == (2, 2, 10, 3)
    best = int(np.argmax(z["margin"]))
    assert np.allclose(z["X"], z["X_runs"][best])
    hist = tmp_path / "run.history.csv"
    rows = list(csv.DictReader(hist.open()))
    assert len(rows) == 4 * 2 and {"step", "seed", "loss", "t", "b_rel", "margin", "b_rel_star",
                                   "frac_separated"} <= set(rows[0])
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["constellation3d.png", "inner_products.png", "loss_t.png"]
    # verify reads the trained file (the lead's command): same margin
    v = run_cli("verify", out, "--json")
    assert v.returncode in (0, 1), v.stderr
    assert json.loads(v.stdout)["margin"] == pytest.approx(o["runs"][best]["margin"], abs=1e-9)


@pytest.mark.parametrize("args,msg", [
    (["--n", 8, "--dim", 3, "--adapter"], "frozen"),
    (["--n", 1, "--dim", 3], "n >= 2"),
    (["--n", 8, "--dim", 3, "--seeds", "x"], "seeds"),
    (["--n", 8, "--dim", 3, "--b0", "1.0"], "b0"),
    (["--n", 8, "--dim", 3, "--graph-mode", "fast"], "graph-mode"),
])
def test_train_bad_input(args, msg):
    r = run_cli("train", *args, "--steps", 2)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("constellations: error:") and msg in lines[0]


def _planted(tmp_path, noise=1e-3):
    from constellations.codes.constructions import cross_polytope_code, modality_simplex
    cfg = modality_simplex(cross_polytope_code(16, 8), 2, 0.8)
    rng = np.random.default_rng(0)
    X = cfg.X + noise * rng.standard_normal(cfg.X.shape)
    X *= rng.uniform(0.5, 2.0, size=X.shape[:2])[:, :, None]
    f = tmp_path / "pairs.npz"
    np.savez(f, U=X[0], V=X[1], labels=np.arange(16))
    return cfg, f


def test_analyze_planted(tmp_path):
    cfg, f = _planted(tmp_path)
    r = run_cli("analyze", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert o["forms"]["minmax"]["margin"] == pytest.approx(cfg.meta["margin"], abs=0.01)
    g = o["edges"][0]["gap"]
    assert g["found"] and g["separable"] and g["n_negative"] == 16
    assert o["edges"][0]["retrieval_kl"] == 1.0
    h = run_cli("analyze", f)
    assert h.returncode == 0 and "HALF the gap" in h.stdout and "linearly separable" in h.stdout


def test_analyze_bad_input(tmp_path):
    rng = np.random.default_rng(1)
    U = rng.standard_normal((6, 3))
    nan = U.copy()
    nan[1, 1] = np.nan
    np.savez(tmp_path / "nan.npz", U=nan, V=U)
    np.savez(tmp_path / "shape.npz", U=U, V=U[:5])
    np.savez(tmp_path / "keys.npz", A=U)
    (tmp_path / "junk.npz").write_text("not a zip")
    for name, msg in [("nan.npz", "NaN"), ("shape.npz", "disagree"), ("keys.npz", "expected"),
                      ("junk.npz", "npz"), ("missing.npz", "no such file")]:
        r = run_cli("analyze", tmp_path / name)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1 and msg in lines[0], (name, r.stderr)


def test_reproduce_small(tmp_path):
    r = run_cli("reproduce", "bias", "--n", 8, "--dim", 3, "--seeds", 2, "--steps", 20, "-o", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "m (half gap)" in r.stdout and "2m (paper's gap)" in r.stdout
    o = json.loads((tmp_path / "bias.json").read_text())
    assert [x["bias"] for x in o["rows"]] == ["absolute", "relative"]
    assert o["settings"]["command"].startswith("constellations reproduce bias")
    for row in o["rows"]:
        assert row["gap_mean"] == pytest.approx(2 * row["margin_mean"])
    assert (tmp_path / "bias.csv").exists() and "2m (paper's gap)" in (tmp_path / "bias.md").read_text()
    assert o["interrupted"] is False and isinstance(o["settings"]["seconds"], float) and "wall_s" not in o["settings"]
    bad = run_cli("reproduce", "nosuch")
    assert bad.returncode == 2
    # --out is kept as a hidden alias of -o/--output
    old = run_cli("reproduce", "bias", "--n", 6, "--dim", 3, "--seeds", 1, "--steps", 5, "--out", tmp_path / "..",
                  "--json")
    assert old.returncode == 0, old.stderr
    assert json.loads(old.stdout)["tables"][0]["seconds"] >= 0 and (tmp_path.parent / "bias.md").exists()


def _one_error_line(r, *words):
    """Exit 2, exactly one line on stderr, no traceback, and the line names ``words``."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(lines) == 1 and lines[0].startswith("constellations: error:") and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")


@needs_proc
def test_unwritable_outputs_are_refused_before_the_work(tmp_path):
    # 10^7 steps would run for hours: these return at once only because the paths are checked first.
    long = ["--n", 8, "--dim", 3, "--steps", 10 ** 7]
    _one_error_line(run_cli("train", *long, "-o", "/proc/x.npz", timeout=120), "/proc/x.npz")
    _one_error_line(run_cli("train", *long, "--plot", "/proc", timeout=120), "/proc")
    _one_error_line(run_cli("train", *long, "--history", "/proc/h.csv", timeout=120), "/proc/h.csv")
    for opt in ("-o", "--output", "--out"):
        _one_error_line(run_cli("reproduce", "bias", "--steps", 10 ** 7, opt, "/proc/x", timeout=120), "/proc/x")
        _one_error_line(run_cli("reproduce", "bias", "--steps", 10 ** 7, opt, "/proc", timeout=120), "/proc")


def test_missing_directories_are_not_created(tmp_path):
    missing = tmp_path / "nope"
    _one_error_line(run_cli("train", "--n", 8, "--dim", 3, "--steps", 10 ** 7, "--plot", missing), "does not exist")
    _one_error_line(run_cli("train", "--n", 8, "--dim", 3, "--steps", 10 ** 7, "-o", missing / "a.npz"),
                    "does not exist")
    _one_error_line(run_cli("reproduce", "bias", "--steps", 10 ** 7, "-o", missing), "does not exist")
    assert not missing.exists()


def test_train_sizes_seeds_and_divergence_are_refused(tmp_path):
    # N = 10^5: one seed, one edge, 10^10 float32 logits, ~4 alive -> 149 GiB, far over half of any RAM here
    line = _one_error_line(run_cli("train", "--n", 100_000, "--dim", 3, "-o", tmp_path / "a.npz"), "GiB", "limit")
    assert "N=100000" in line
    _one_error_line(run_cli("train", "--n", 8, "--dim", 3, "--seeds", 1_000_000), "limit of 10000")
    _one_error_line(run_cli("train", "--n", 8, "--dim", 3, "--seeds", "0:1000000000000000000000"), "limit of 10000")
    _one_error_line(run_cli("reproduce", "init-grid", "--seeds", 2000), "limit of 10000")
    out = tmp_path / "div.npz"
    _one_error_line(run_cli("train", "--n", 10, "--dim", 3, "--lr", 1e30, "--steps", 50, "-o", out),
                    "diverged", "step 1 ", "smaller learning rate")
    assert not out.exists() and list(tmp_path.iterdir()) == []  # no partial file


@pytest.mark.parametrize("spec,seeds", [("3", [0, 1, 2]), ("2:4", [2, 3]), ("5,1", [5, 1]), ("7", list(range(7)))])
def test_seeds_grammar(spec, seeds):
    assert parse_seeds(spec) == seeds


def test_seeds_grammar_is_shared(tmp_path):
    """Both commands read --seeds with the one grammar (parse_seeds): a list keeps its order."""
    spec, seeds = "5,1", [5, 1]
    t = run_cli("train", "--n", 6, "--dim", 3, "--steps", 3, "--seeds", spec, "--json")
    assert t.returncode == 0, t.stderr
    assert [r["seed"] for r in json.loads(t.stdout)["runs"]] == seeds
    r = run_cli("reproduce", "bias", "--n", 6, "--dim", 3, "--steps", 3, "--seeds", spec, "--json")
    assert r.returncode == 0, r.stderr
    tab = json.loads(r.stdout)["tables"][0]
    assert tab["settings"]["seeds"] == seeds and all(row["runs"] == len(seeds) for row in tab["rows"])


@pytest.mark.parametrize("spec", ["x", "0", "1,1", "5:3", "1e3", "-2", "2:", "1:2:3", "١٢", "eval('1')"])
def test_bad_seeds_same_refusal_in_train_and_reproduce(spec):
    _one_error_line(run_cli("train", "--n", 6, "--dim", 3, "--steps", 3, "--seeds", spec), "--seeds")
    _one_error_line(run_cli("reproduce", "bias", "--steps", 3, "--seeds", spec), "--seeds")


def test_train_json_vocabulary(tmp_path):
    r = run_cli("train", "--n", 6, "--dim", 3, "--steps", 5, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert {"n", "dim", "modalities", "seconds", "steps", "interrupted"} <= set(o) and "wall_s" not in o
    assert (o["n"], o["dim"], o["modalities"]) == (6, 3, 2) and isinstance(o["seconds"], float)
    run = o["runs"][0]
    assert all(isinstance(run[k], float) for k in ("loss", "t", "b_rel", "margin", "b_rel_star"))


def _interrupt_on(args, marker: bytes, timeout=240, sig=None):
    """Run the CLI with stderr on a pseudo-terminal (so it shows progress) and press Ctrl-C (SIGINT; or send
    ``sig``) once ``marker`` has appeared there, i.e. once the training loop is running.  Returns (rc, stdout,
    stderr)."""
    import signal
    import time

    p, master, buf, th = start_on_a_terminal(args, text=False, new_session=False)
    deadline = time.time() + timeout
    try:
        while marker not in buf and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert marker in buf, bytes(buf)
        p.send_signal(signal.SIGINT if sig is None else sig)
        out, _ = p.communicate(timeout=timeout)
    finally:
        if p.poll() is None:  # never leave the long run behind
            p.kill()
            p.wait()
    th.join(timeout=10)
    os.close(master)
    return p.returncode, out.decode(), bytes(buf).decode(errors="replace")


@pytest.mark.skipif(not hasattr(os, "openpty") or os.name != "posix", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_on_train_writes_the_state_reached_and_says_so(tmp_path):
    out = tmp_path / "run.npz"
    rc, stdout, stderr = _interrupt_on(["train", "--n", 8, "--dim", 3, "--steps", 10 ** 7, "--record-every", 50,
                                        "-o", out], b"| 50/")  # the second record: steps were taken
    assert rc == 130, stderr
    assert "Traceback" not in stderr and "constellations: interrupted after" in stderr
    assert "INTERRUPTED after" in stdout
    z = np.load(out)
    meta = json.loads(str(z["meta"]))
    assert meta["interrupted"] is True and 0 < meta["steps"] < 10 ** 7 and meta["steps_planned"] == 10 ** 7
    assert (tmp_path / "run.history.csv").exists()


@pytest.mark.skipif(not hasattr(os, "openpty") or os.name != "posix", reason="needs a POSIX pseudo-terminal")
def test_sigterm_writes_a_checkpoint_that_resumes_to_the_uninterrupted_run(tmp_path, capsys):
    """SIGTERM through the real entry point writes the checkpoint; the same command with --resume (run
    in-process, one subprocess less) ends where the uninterrupted run ends, bit for bit."""
    import signal

    import torch

    from constellations.cli.train import command
    from constellations.training.trainer import TrainSpec, train

    ck, out = tmp_path / "ck.npz", tmp_path / "out.npz"
    common = ["--n", "8", "--dim", "3", "--batch-size", "4", "--record-every", "50", "--checkpoint", str(ck)]
    rc, _, stderr = _interrupt_on(["train", *common, "--steps", 10 ** 6, "--checkpoint-every", 10 ** 5], b"| 50/",
                                  sig=signal.SIGTERM)
    assert rc == 143, stderr
    assert "Traceback" not in stderr and f"checkpoint {ck} at step" in stderr and "--resume" in stderr
    with np.load(ck, allow_pickle=False) as z:
        k = json.loads(str(z["meta"]))["step"]
    assert 50 <= k < 10 ** 6
    threads = torch.get_num_threads()
    try:
        rv = command.main([*common, "--steps", str(k + 20), "--resume", "--json", "-o", str(out)],
                          standalone_mode=False)
        torch.set_num_threads(1)  # the CLI's default
        # the same run without the interruption: the same final embeddings, bit for bit
        whole = train(TrainSpec(n=8, dim=3, steps=k + 20, record_every=50, batch_size=4), seeds=[0])  # --seeds 1
    finally:
        torch.set_num_threads(threads)
    o = json.loads(capsys.readouterr().out)
    assert rv == 0 and o["resumed_from"] == k and o["steps"] == k + 20 and o["batch_size"] == 4
    assert not o["interrupted"] and o["files"]["checkpoint"] == str(ck)
    with np.load(out) as z:
        assert np.array_equal(z["X_runs"], whole.X) and np.array_equal(z["t"], whole.t)


def test_minibatch_and_checkpoint_bad_input(tmp_path):
    """One line, exit 2, nothing written: through the real entry point once, in-process for the rest
    (click raises what cli/main.py turns into exit 2)."""
    import click

    from constellations.cli.train import command
    from constellations.core.errors import ConstellationsError

    _one_error_line(run_cli("train", "--n", 20, "--dim", 3, "--batch-size", 30), "batch size 30", "2..N = 20")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "out.npz"
    for args, msg in [(["--batch-size", 1], "batch size"), (["--resume"], "--checkpoint"),
                      (["--checkpoint", bad, "--checkpoint-every", 0], ">= 1"),
                      (["--checkpoint", bad, "--resume"], "cannot resume"),
                      (["--checkpoint", tmp_path / "none.npz", "--resume"], "no such file"),
                      (["--checkpoint", tmp_path / "ck.txt"], ".npz")]:
        with pytest.raises((click.ClickException, ConstellationsError), match=msg):
            command.main(["--n", "20", "--dim", "3", "--steps", "3", "--quiet", "-o", str(out), *map(str, args)],
                         standalone_mode=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


@pytest.mark.skipif(not hasattr(os, "openpty") or os.name != "posix", reason="needs a POSIX pseudo-terminal")
def test_ctrl_c_on_reproduce_marks_every_format(tmp_path):
    rc, stdout, stderr = _interrupt_on(["reproduce", "bias", "--n", 8, "--dim", 3, "--seeds", 2, "--steps", 10 ** 7,
                                        "-o", tmp_path], b"step ")
    assert rc == 130, stderr
    assert "Traceback" not in stderr and "constellations: interrupted during bias" in stderr
    md = (tmp_path / "bias.md").read_text()
    assert md.startswith("## bias\n\n**INTERRUPTED: partial results.**") and "INTERRUPTED" in stdout
    rows = list(csv.DictReader((tmp_path / "bias.csv").open()))
    assert rows and all(r["interrupted"] == "True" and int(r["steps_done"]) < 10 ** 7 for r in rows)
    o = json.loads((tmp_path / "bias.json").read_text())
    assert o["interrupted"] is True and o["settings"]["interrupted"] is True
    assert all(r["interrupted"] is True for r in o["rows"])


def _in_process(capsys, *argv):
    """The CLI's ``main`` in this process (no interpreter start-up), as a CompletedProcess-like result."""
    import types

    from constellations.cli.main import main

    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    cap = capsys.readouterr()
    return types.SimpleNamespace(returncode=exc.value.code, stdout=cap.out, stderr=cap.err)


@pytest.mark.usefixtures("keeps_signal_handlers")
def test_analyze_json_vocabulary_and_file_kinds(tmp_path, capsys):
    import torch

    cfg, f = _planted(tmp_path)
    r = run_cli("analyze", f, "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert (o["modalities"], o["n"], o["dim"]) == (2, 16, 9) and not {"M", "N", "d"} & set(o)
    assert isinstance(o["seconds"], float) and isinstance(o["forms"]["minmax"]["margin"], float)
    assert o["counts"] == {"positive": 16, "negative": 240}
    z = np.load(f)
    U, V = z["U"].astype(np.float32), z["V"].astype(np.float32)
    np.save(tmp_path / "U.npy", U)
    np.save(tmp_path / "V.npy", V)
    np.save(tmp_path / "X.npy", np.stack([U, V]))
    torch.save(torch.from_numpy(np.stack([U, V])), tmp_path / "X.pt")
    torch.save({"U": torch.from_numpy(U), "V": torch.from_numpy(V)}, tmp_path / "UV.pt")
    torch.save(torch.from_numpy(U), tmp_path / "U.pt")
    torch.save(torch.from_numpy(V).to(torch.bfloat16), tmp_path / "V16.pt")
    want = None
    for args in (["U.npy", "V.npy"], ["X.npy"], ["X.pt"], ["UV.pt"]):  # in process: the container is the point
        r = _in_process(capsys, "analyze", *[tmp_path / a for a in args], "--json", "--no-gap")
        assert r.returncode == 0, (args, r.stderr)
        forms = json.loads(r.stdout)["forms"]
        want = want or forms
        assert forms == want, args  # the same float32 numbers, whichever container
    assert want["minmax"]["margin"] == pytest.approx(cfg.meta["margin"], abs=0.01)
    r = _in_process(capsys, "analyze", tmp_path / "U.pt", tmp_path / "V16.pt", "--json", "--no-gap")
    assert r.returncode == 0, r.stderr  # bfloat16 is read (as float32)


@pytest.mark.usefixtures("keeps_signal_handlers")
def test_analyze_bad_files_one_line(tmp_path, capsys):
    import torch

    rng = np.random.default_rng(2)
    U = rng.standard_normal((6, 3)).astype(np.float32)
    np.savez(tmp_path / "one.npz", U=U[:1], V=U[:1])
    good = tmp_path / "good.npz"
    np.savez(good, U=U, V=U)
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:60])  # a zip header, then nothing
    np.save(tmp_path / "U.npy", U)
    np.save(tmp_path / "V5.npy", U[:5])
    nan = U.copy()
    nan[3, 2] = np.inf
    np.save(tmp_path / "inf.npy", nan)
    np.save(tmp_path / "flat.npy", U)  # 2-D alone: not (M, N, d)
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "U.npy").read_bytes()[:100])
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    (tmp_path / "x.safetensors").write_bytes(b"\0" * 16)
    (tmp_path / "pairs.txt").write_text("1 2 3")

    class Evil:
        def __reduce__(self):
            return (print, ("pickled code ran",))

    torch.save({"U": Evil()}, tmp_path / "evil.pt")
    cases = [
        (["one.npz"], "N=2"), (["trunc.npz"], "npz"), (["U.npy", "V5.npy"], "disagree"),
        (["inf.npy", "U.npy"], "NaN or Inf"), (["flat.npy"], "(M, N, d)"), (["trunc.npy"], "npy"),
        (["junk.pt"], "torch"), (["obj.npy"], "npy"), (["pairs.txt"], "unknown kind"), (["evil.pt"], "weights_only"),
        (["U.npy", "U.npy", "U.npy"], "two files"), (["missing.npy"], "no such file"),
    ]
    try:
        import safetensors  # noqa: F401
    except ImportError:
        cases.append((["x.safetensors"], "safetensors"))
    for names, msg in cases:  # in process, but for the pickle, which goes through the real entry point
        argv = ("analyze", *[tmp_path / n for n in names])
        r = run_cli(*argv) if names == ["evil.pt"] else _in_process(capsys, *argv)
        _one_error_line(r, msg)
        assert "pickled code ran" not in r.stdout + r.stderr


def test_train_graph_mode_on_cpu():
    """auto runs eager on the CPU (reported as such); cuda-graph without CUDA is one line, exit 2."""
    r = run_cli("train", "--n", 6, "--dim", 3, "--steps", 5, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["launch"] == "eager"
    import torch
    if not torch.cuda.is_available():
        _one_error_line(run_cli("train", "--n", 6, "--dim", 3, "--steps", 5, "--graph-mode", "cuda-graph"),
                        "cuda-graph", "CUDA")
