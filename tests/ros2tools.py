"""The real `ros2` command-line tools and `ros2 launch`, driven from tests.

They are third-party wheels kept outside the project (../shared/vendor/ros2cli beside the checkout, or
$VSTREAM_ROS2CLI; scripts/setup.sh installs them into the venv when the folder is there). Tests that
need them skip when they are absent. Each `Ros2` works in its own DDS domain and follows the vendor
README: the ros2 daemon is started before the first graph query and stopped at the end.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO

VENDOR = Path(os.environ.get("VSTREAM_ROS2CLI") or REPO.parent / "shared" / "vendor" / "ros2cli")
VENV = Path(sys.prefix)
LAUNCH_FILE = REPO / "launch" / "vstream.launch.py"


def why_missing() -> str:
    """Why the ros2 CLI tests cannot run here ("" when they can)."""
    if not (VENDOR / "env.sh").is_file():
        return f"the vendored ROS 2 CLI is not at {VENDOR} (set VSTREAM_ROS2CLI to its folder)"
    if not (VENV / "bin" / "ros2").is_file() or importlib.util.find_spec("launch_ros") is None:
        return f"the ROS 2 CLI from {VENDOR} is not installed in {VENV}: run scripts/setup.sh"
    return ""


requires_ros2cli = pytest.mark.skipif(bool(why_missing()), reason=why_missing() or "ros2 CLI present")


def vendor_env(domain: int, log_dir: Path) -> dict[str, str]:
    """This process's environment (loopback DDS, PYTHONPATH = the checkout) with the vendor's env.sh
    applied, on `domain`."""
    base = dict(os.environ, ROS_DOMAIN_ID=str(domain), ROS_LOG_DIR=str(log_dir))
    out = subprocess.run(["bash", "-c", 'source "$1" "$2" >/dev/null && env -0', "_", str(VENDOR / "env.sh"),
                          str(VENV)], env=base, capture_output=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)


class Launched:
    """A `ros2 launch` in its own process group, output to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.popen = subprocess.Popen(["ros2", "launch", *args], env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole process group (launch and the node)."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGINT)
        return self.wait(timeout)

    def wait(self, timeout: float = 60.0) -> int:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        self._log.close()
        return self.popen.returncode


class Ros2:
    """`ros2 ...` commands and launches on one DDS domain, with its ros2 daemon."""

    def __init__(self, tmp_path: Path, domain: int, daemon: bool = True) -> None:
        """`daemon`: start one (and stop it in close()); a test that makes no graph query needs none."""
        self.tmp_path = tmp_path
        self.env = vendor_env(domain, tmp_path / "ros_log")
        self.launches: list[Launched] = []
        self.daemon = daemon
        if daemon:
            self.run("daemon", "start")

    def run(self, *args: str, timeout: float = 90.0, ok: bool = True) -> str:
        """Run `ros2 ARGS`; its stdout and stderr. `ok`: fail the test unless it exits 0."""
        p = subprocess.run(["ros2", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        out = p.stdout + p.stderr
        assert p.returncode == 0 or not ok, f"ros2 {' '.join(args)} exited {p.returncode}:\n{out}"
        return out

    def launch(self, *args: str, name: str = "launch") -> Launched:
        proc = Launched([str(LAUNCH_FILE), *args], self.env, self.tmp_path / f"{name}.log")
        self.launches.append(proc)
        return proc

    def wait_for(self, predicate, what: str, proc: Launched | None = None, timeout: float = 120.0) -> None:
        """Poll `predicate()` (each poll runs ros2 commands) until true; fail with the launch output."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if proc is not None and proc.popen.poll() is not None:
                break
            time.sleep(0.5)
        pytest.fail(f"{what} did not happen\n{proc.output() if proc else ''}")

    def lifecycle_state(self, node: str) -> str:
        m = re.search(r"^(\w+) \[\d+\]", self.run("lifecycle", "get", node, ok=False), re.M)
        return m.group(1) if m else ""

    def wait_state(self, node: str, state: str, proc: Launched | None = None, timeout: float = 120.0) -> None:
        self.wait_for(lambda: self.lifecycle_state(node) == state, f"{node} reaching {state}", proc, timeout)

    def close(self) -> None:
        for proc in self.launches:
            if proc.popen.poll() is None:
                proc.interrupt()
        if self.daemon:
            self.run("daemon", "stop", ok=False)


def field(out: str, name: str) -> str:
    """A field of the response that `ros2 service call` prints (the message's repr)."""
    m = re.search(rf"\b{name}=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^,)]+)", out)
    assert m, f"no {name} in:\n{out}"
    return m.group(1).strip("'\"")
