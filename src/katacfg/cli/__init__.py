"""Argument parsing and command wiring only (app.py); one module per command (commands/)."""
from katacfg.cli.app import entry, main

__all__ = ["entry", "main"]
