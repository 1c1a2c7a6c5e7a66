"""The layers of diffkern, checked on the import statements of every module.

cli (the application) -> jit, profile, testing (observers) -> orbits, gp, scan, regression
(kernels) -> kepler -> fit, implicit (the optimisation loop) -> the bottom layer (_arrays,
_checks, _ragged, precision). A module imports from its own layer or below, never above, and
a package's private modules (``diffkern.gp._kernel``) only from inside that package.
"""

import ast
from pathlib import Path

import pytest

import diffkern

ROOT = Path(diffkern.__file__).parent
BOTTOM = {"_arrays", "_checks", "_ragged", "_version", "precision"}
LAYERS = {
    "fit": 1,
    "implicit": 1,
    "kepler": 2,
    "orbits": 3,
    "gp": 3,
    "scan": 3,
    "regression": 3,
    "transit": 3,
    "jit": 4,
    "profile": 4,
    "testing": 4,
    "cli": 5,
}


def _package(module: str) -> str:
    """The top-level unit of a dotted diffkern module name (``diffkern.gp._kernel`` -> gp)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(package: str) -> int:
    return 0 if package in BOTTOM else LAYERS[package]


def _imports(path: Path) -> list[str]:
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:  # relative import
                base = ".".join(module.split(".")[: -node.level] + [node.module])
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return [n for n in names if n.split(".")[0] == "diffkern"]


MODULES = sorted(p for p in ROOT.rglob("*.py") if p.name != "__init__.py" or p.parent != ROOT)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path):
    own = _package(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
    for name in _imports(path):
        target = _package(name)
        if not target or target == own or target not in BOTTOM | set(LAYERS):
            continue
        assert _layer(target) <= _layer(own), (
            f"{path.relative_to(ROOT)} imports {name}: {target} is a layer above {own}"
        )
        private = [part for part in name.split(".")[2:] if part.startswith("_")]
        assert not private, f"{path.relative_to(ROOT)} imports {name}, private to {target}"


def test_the_library_never_imports_the_application():
    for path in MODULES:
        if "cli" in path.relative_to(ROOT).parts:
            continue
        assert not any(_package(n) == "cli" for n in _imports(path)), path
