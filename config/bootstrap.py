"""Make the project's virtualenv before the README's commands run.

Standard library only: this runs under whatever ``python3`` a newcomer has, before
Django or any dependency is importable. It creates ``.venv`` with Python 3.11,
installs the project with the pinned constraints when pyproject.toml or
constraints.txt changed, and re-executes the command inside the virtualenv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
REQUIRED_PYTHON = (3, 11)
STAMP_INPUTS = ("pyproject.toml", "constraints.txt", "sdk/python/pyproject.toml")


def venv_dir() -> Path:
    return Path(os.environ.get("AGENTLOOP_VENV", BASE_DIR / ".venv")).resolve()


def _python_311() -> str:
    if sys.version_info[:2] == REQUIRED_PYTHON:
        return sys.executable
    found = shutil.which("python3.11")
    if found:
        return found
    sys.exit("AgentLoop needs Python 3.11 (python3.11 was not found on PATH).")


def _dependency_stamp() -> str:
    digest = hashlib.sha256()
    for name in STAMP_INPUTS:
        path = BASE_DIR / name
        if path.exists():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def ensure_venv() -> None:
    """Re-execute the current command inside an up-to-date ``.venv`` (no return if it does)."""
    venv = venv_dir()
    python = venv / "bin" / "python"
    if Path(sys.prefix).resolve() == venv and os.environ.get("AGENTLOOP_BOOTSTRAPPED"):
        return
    if not python.exists():
        print(f"agentloop: creating virtualenv in {venv}", flush=True)
        subprocess.run([_python_311(), "-m", "venv", str(venv)], check=True)
    stamp_file = venv / ".agentloop-deps"
    stamp = _dependency_stamp()
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        print("agentloop: installing dependencies (pinned by constraints.txt)", flush=True)
        pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "--upgrade", "pip", "setuptools", "wheel"], check=True)
        install = [*pip, "-c", str(BASE_DIR / "constraints.txt"), "-e", f"{BASE_DIR}[dev,semantic]"]
        if (BASE_DIR / "sdk" / "python" / "pyproject.toml").exists():
            install += ["-e", str(BASE_DIR / "sdk" / "python")]
        subprocess.run(install, check=True)
        stamp_file.write_text(stamp)
    env = dict(os.environ, AGENTLOOP_BOOTSTRAPPED="1", VIRTUAL_ENV=str(venv))
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    os.execve(str(python), [str(python), os.path.abspath(sys.argv[0]), *sys.argv[1:]], env)
