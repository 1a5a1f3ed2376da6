"""Start ROS 2 processes for tests and talk to them from the test process (no launch here)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from vstream_ros.tools import calls

PROCS = Path(__file__).resolve().parent / "procs"


_next_domain = int(os.environ["ROS_DOMAIN_ID"])


def fresh_domain() -> int:
    """A DDS domain of its own for one test's processes, so nodes of different tests never meet."""
    global _next_domain
    _next_domain = _next_domain % 100 + 1
    return _next_domain


class Proc:
    """A child Python process with the test's loopback DDS environment, on `domain` if given."""

    def __init__(self, args: list[str], log_path: Path, domain: int | None = None) -> None:
        self.log_path = log_path
        self._log = open(log_path, "w")
        env = dict(os.environ)
        if domain is not None:
            env["ROS_DOMAIN_ID"] = str(domain)
        self.popen = subprocess.Popen([sys.executable, *args], stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        """Signal the process and wait; kill it if it does not end in time. Safe to call twice."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """Wait until `text` shows in the log (or the process ends, or `timeout` passes); whether it showed."""
        deadline = time.monotonic() + timeout
        while text not in self.output() and self.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        return text in self.output()

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()


class Client:
    """An rclpy node of the test process with its own context, spun on demand."""

    def __init__(self, name: str = "test_client", domain: int | None = None) -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain)
        self.node = Node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def call(self, client, request, timeout: float = 30.0, resend_after: float | None = 10.0):
        """The first response to `request`, sent again every `resend_after` s while none has come
        (vstream_ros/tools/calls.py: Fast DDS may drop a response right after discovery). Pass None for
        requests that must not run twice."""
        return calls.call(client, request, self.spin_until, timeout, resend_after)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


def params_file(tmp: Path, name: str = "my_params", **values) -> str:
    """A user's params file: config/vstream.yaml with some values changed."""
    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "vstream.yaml").read_text())
    doc["/**"]["ros__parameters"] |= values
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def params_node(tmp: Path, domain: int, name: str = "node", **overrides) -> Proc:
    """vstream_node with config/vstream.yaml and `overrides`, through --params-file, as a user starts it."""
    return Proc(["-m", "vstream_ros.ros.node", "--ros-args", "--params-file", params_file(tmp, name, **overrides)],
                tmp / f"{name}.log", domain)
