import fcntl
import os
import pty
import sqlite3
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"


def run_cli(*args, cwd=None, timeout=300, input=None):
    """Run the real console entry point in a subprocess; returns CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "constellations.cli.main", *map(str, args)], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def stored_cells(store) -> int:
    """Cells committed in a table store so far, read without creating anything (0 when unreadable)."""
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def start_on_a_terminal(argv, *, text=True, new_session=True):
    """Start the CLI with stderr on a pseudo-terminal (so that it draws its progress bar, which it
    does only on a terminal), stdout on a pipe and no stdin; in its own process group unless
    ``new_session`` is False.  Returns (process, master fd, the bytes read from the terminal so far:
    a bytearray the returned reader thread keeps filling, so the child never blocks on it)."""
    env = dict(os.environ, PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))  # tqdm draws nothing at 0 columns
    p = subprocess.Popen([sys.executable, "-m", "constellations.cli.main", *map(str, argv)], cwd=REPO, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, text=text,
                         start_new_session=new_session)
    os.close(slave)
    seen = bytearray()

    def read():
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: every holder of the terminal (the CLI, its workers) has closed it
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return p, master, seen, reader


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def one_torch_thread():
    """Torch on one thread within a test (reproducible sums, no oversubscription beside xdist); used by the
    training tests through ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def keeps_signal_handlers():
    """Restore the SIGINT and SIGTERM handlers after a test that runs the CLI's ``main`` in this process
    (``main`` installs its own, :func:`constellations.core.interrupts.install`), so that no later test in
    the same worker sees them."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.fixture
def cpu_graph(monkeypatch):
    """Run the training's CUDA-graph path on the CPU: the 'capture' is the warm-up + reset, the 'replay'
    calls the body.  Everything but the CUDA graph object itself is exercised: the static step body, the
    device step counter of the divergence flags, the warm-up on live tensors and the reset that must erase it."""
    import constellations.training.trainer as tr

    def fake_capture(body, reset, device):
        for _ in range(3):
            body()
        reset()
        return body

    monkeypatch.setattr(tr, "_use_graph", lambda mode, device: mode != "off")
    monkeypatch.setattr(tr, "_capture_step", fake_capture)
