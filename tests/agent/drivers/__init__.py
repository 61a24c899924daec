"""Tests of the agent's device drivers."""
