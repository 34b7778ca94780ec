"""Logging set-up shared by the rule scripts and the command line."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(log_file: str | None = None, level: int = logging.INFO) -> None:
    """Send log records to stderr and, when given, to ``log_file`` (appended)."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)


class logged_step:
    """Context manager for a rule script: configure logging, log the start, stop or error.

    The error is logged with its message (so it is in the rule's log file) and re-raised, so
    the rule still fails.
    """

    def __init__(self, name: str, log_file: str | None = None):
        self.name = name
        self.log_file = log_file
        self.log = logging.getLogger(f"seedcompare.rule.{name}")

    def __enter__(self):
        configure_logging(self.log_file)
        self.log.info("%s: started", self.name)
        return self.log

    def __exit__(self, error_type, error, traceback):
        if error is None:
            self.log.info("%s: finished", self.name)
        else:
            self.log.error("%s: failed: %s", self.name, error, exc_info=(error_type, error, traceback))
        return False
