"""The README's Python examples run as written, in a fresh interpreter (as a user runs them)."""

import os
import re
import sys
from pathlib import Path

from _proc import run

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(_python_blocks()) >= 6


def test_readme_examples_run(tmp_path):
    # One interpreter, each block in its own namespace, so every block is self-contained.
    script = "\n".join(
        f"exec(compile({block!r}, 'README block {i}', 'exec'), {{'__name__': '__readme__'}})"
        for i, block in enumerate(_python_blocks())
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    result = run([sys.executable, "-c", script], cwd=tmp_path, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
