"""Model-loading progress bars show on a terminal and nowhere else (not under launch, not in a log)."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier

# tqdm is what torch, transformers and huggingface_hub draw their bars with
DRAW = "import vstream_ros.ros\nfrom tqdm import tqdm\nfor _ in tqdm(range(3), desc='loading'): pass\n"


def run(stderr) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    subprocess.run([sys.executable, "-c", DRAW], stderr=stderr, env=env, check=True, timeout=60)


def test_no_progress_bar_when_stderr_is_a_pipe_or_a_file(tmp_path):
    log = tmp_path / "node.log"
    with open(log, "w") as f:
        run(f)
    assert log.read_text() == ""


@pytest.mark.skipif(not hasattr(pty, "openpty"), reason="needs a pseudo-terminal")
def test_progress_bar_on_a_terminal():
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))   # a new pty is 0 columns wide
    try:
        run(follower)
        os.close(follower)
        follower = None
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:            # the terminal closed: everything was read
                break
            if not chunk:
                break
            out += chunk
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)
    assert b"loading" in out and b"100%" in out
