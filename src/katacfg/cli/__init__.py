"""Argument parsing and command wiring only."""
