import os
import subprocess

from tests.stack import ROOT

SCRIPT = ROOT / "bin/find-python"


def test_it_finds_a_python_of_at_least_3_12():
    found = subprocess.run([SCRIPT], capture_output=True, text=True, check=True).stdout.strip()
    version = subprocess.run(
        [found, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert tuple(map(int, version)) >= (3, 12)


def test_without_one_it_says_what_to_install(tmp_path):
    # A PATH with only an old python3 and no pyenv.
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")
    old.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([SCRIPT], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "needs Python 3.12 or newer" in result.stderr
    assert "pyenv install 3.12" in result.stderr
    assert not os.path.exists(result.stdout.strip() or "/nonexistent")
