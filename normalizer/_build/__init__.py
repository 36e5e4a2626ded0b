"""Packaging: the hatchling hook that compiles the bundled rules into the wheel.

Run by the build backend only; never imported by the package at run time, and
left out of the wheel (``pyproject.toml``).
"""
