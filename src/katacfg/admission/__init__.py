"""Admission-time verdicts on Kata pods: node selection, admit, webhook and policy."""
