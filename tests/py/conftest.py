"""Shared pytest fixtures: the binary under test and a bounded way to run it and real peers."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def harness_path():
    return pathlib.Path(os.environ.get("MH_BIN", ROOT / "build" / "mtls-harness"))


@pytest.fixture(scope="session")
def harness():
    path = harness_path()
    if not path.is_file():
        raise RuntimeError(f"{path}: binary not built; run scripts/test (or set MH_BIN)")
    return path


def run(args, timeout=60, check=False, cwd=None):
    """Runs a command with a deadline; returns the CompletedProcess (text mode)."""
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, check=check, cwd=cwd)


@pytest.fixture
def mh(harness):
    """Runs mtls-harness with the given arguments."""
    def _run(*args, timeout=60, cwd=None):
        return run([harness, *args], timeout=timeout, cwd=cwd)
    return _run
