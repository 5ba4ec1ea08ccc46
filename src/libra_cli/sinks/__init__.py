"""Sinks: findings files, hash output, and later the state store and actions."""

from __future__ import annotations

from .base import FindingsSink, Sink

__all__ = ["FindingsSink", "Sink"]
