"""Synthetic sick-leave data for a Norwegian municipality (no real person is in it)."""

from provisioning.synth.generate import SickLeaveData, generate, write

__all__ = ["SickLeaveData", "generate", "write"]
