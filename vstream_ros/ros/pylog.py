"""The engine's Python logging (a memory reset, a failed worker) into the node's ROS logger, so that it
reaches /rosout and `ros2 launch`'s log with the node's name, not bare stderr."""

from __future__ import annotations

import logging


class RosLogHandler(logging.Handler):
    def __init__(self, ros_logger) -> None:
        super().__init__(logging.INFO)
        self._ros = ros_logger

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if record.levelno >= logging.ERROR:
                self._ros.error(text)
            elif record.levelno >= logging.WARNING:
                self._ros.warning(text)
            else:
                self._ros.info(text)
        except Exception:   # a log line must never break its caller
            self.handleError(record)


def forward_python_logging(ros_logger, package: str = "vstream_ros") -> RosLogHandler:
    """Route `package`'s loggers (INFO and up) to `ros_logger`; returns the handler (remove it to stop)."""
    handler = RosLogHandler(ros_logger)
    log = logging.getLogger(package)
    log.addHandler(handler)
    log.setLevel(min(log.level or logging.INFO, logging.INFO))
    log.propagate = False
    return handler
