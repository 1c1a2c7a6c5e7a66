"""Every recompile is explained by the argument that changed."""

import inspect
import logging
import sys
import types

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

import diffkern.jit._watch as watch_module
from diffkern import gp, kepler, orbits, regression, scan
from diffkern.jit import Explanation, count_compiles, instrument, watch
from diffkern.jit._explain import parse_jax_explanation


def _kepler():
    @jax.jit
    def kepler(mean_anomaly, ecc):
        return mean_anomaly - ecc * jnp.sin(mean_anomaly)

    return watch(kepler, "kepler")


def test_watched_shape_change_names_the_argument():
    kepler = _kepler()
    m1000, m1001, e = jnp.zeros(1000), jnp.zeros(1001), jnp.asarray(0.1)
    with count_compiles() as counts:
        kepler(m1000, e)
        kepler(m1000, e)
        kepler(m1001, e)
    assert [x.message for x in counts.explanations] == [
        f"kepler: compiled for its first call (mean_anomaly: {m1000.dtype}[1000], ecc: "
        f"{e.dtype}[] (weak))",
        "kepler: recompiled because mean_anomaly shape (1000,) -> (1001,)",
    ]
    assert counts.explanations[1].source == "signature"


def test_watched_dtype_weak_type_and_structure_changes(x64):
    @jax.jit
    def model(params, t):
        return params["a"].astype(t.dtype) * t

    f = watch(model)
    t32, t64 = jnp.ones(3, jnp.float32), jnp.ones(3, jnp.float64)
    a, a64, weak = jnp.asarray(1.0, jnp.float32), jnp.asarray(1.0, jnp.float64), jnp.asarray(1.0)
    with count_compiles() as counts:
        f({"a": a}, t32)
        f({"a": a}, t64)
        f({"a": a64}, t64)
        f({"a": weak}, t64)
        f({"a": a, "b": a}, t64)
    causes = [c for e in counts.recompiles for c in e.causes]
    assert "t dtype float32 -> float64" in causes
    assert "params['a'] dtype float32 -> float64" in causes
    assert "params['a'] weak type False -> True" in causes
    structure = "params structure dict keys ['a'] -> dict keys ['a', 'b']"
    assert structure in causes


def test_static_field_change_is_explained():
    class Solver(eqx.Module):
        max_iter: int = eqx.field(static=True)

        def __call__(self, x):
            return x + self.max_iter

    solve = watch(eqx.filter_jit(lambda solver, x: solver(x)), "solve")
    x = jnp.ones(2)
    with count_compiles() as counts:
        solve(Solver(3), x)
        solve(Solver(3), x)
        solve(Solver(5), x)
    assert counts.recompiles[-1].message == (
        "solve: recompiled because solver.max_iter static value 3 -> 5"
    )


def test_unwatched_functions_are_explained_from_jax():
    @jax.jit
    def light_curve(time, period):
        return jnp.sin(time / period)

    t3, t4 = jnp.ones(3), jnp.ones(4)
    p = jnp.asarray(2.0, t3.dtype)
    with count_compiles() as counts:
        light_curve(t3, p)
        light_curve(t4, p)
    assert counts.explanations[0] == Explanation("light_curve", first=True, source="jax")
    assert counts.explanations[1].message == (
        "light_curve: recompiled because time shape (3,) -> (4,)"
    )
    with count_compiles() as weak:
        light_curve(t4, 2.0)
    assert weak.recompiles[0].causes == ("period weak type False -> True",)


def test_parse_static_argument_change_is_readable():
    static = "<class 'jax._src.tree_util.Static'> with pytree metadata Static(val=<function {}>)"
    text = (
        "TRACING CACHE MISS at x.py:6 (<module>):\n  for g defined at x.py:4\n"
        "  different input pytree:\n  * at input path [0][1], now "
        + static.format("f at 0x1")
        + " and before "
        + static.format("f at 0x2")
        + ", so the pytree node metadata does not match\n"
    )
    (cause,) = parse_jax_explanation(text).causes
    assert cause == (
        "input path [0][1] static value changed (a new Python object: function, closure or config)"
    )


def test_parse_names_filter_jit_arguments_by_position():
    text = (
        "TRACING CACHE MISS at x.py:6 (<module>):\n  for g defined at x.py:4\n"
        "  * at dynamic_nodonate['rest'][0], now f32[180] and before f32[100]\n"
        "  * at dynamic_nodonate['first'].x, now f32[3] and before f64[3]\n"
    )
    assert parse_jax_explanation(text).causes == (
        "argument 1 shape (100,) -> (180,)",
        "argument 0.x dtype float64 -> float32",
    )


def test_parse_unknown_report_keeps_text():
    text = "TRACING CACHE MISS at x.py:1 (f):\n  for f defined at x.py:1\n  something new\n"
    assert parse_jax_explanation(text) == Explanation("f", ("something new",), source="jax")
    assert parse_jax_explanation("unrelated log line") is None


def test_env_switch_logs_explanations(monkeypatch, caplog):
    kepler = _kepler()
    a, b, e = jnp.zeros(4), jnp.zeros(6), jnp.asarray(0.1)
    monkeypatch.setenv("DIFFKERN_EXPLAIN_COMPILES", "1")
    with caplog.at_level(logging.WARNING, logger="diffkern.jit"), count_compiles():
        kepler(a, e)
        kepler(b, e)
    assert "kepler: recompiled because mean_anomaly shape (4,) -> (6,)" in caplog.messages
    caplog.clear()
    monkeypatch.setenv("DIFFKERN_EXPLAIN_COMPILES", "0")
    with caplog.at_level(logging.WARNING, logger="diffkern.jit"), count_compiles():
        kepler(jnp.zeros(7), e)
    assert caplog.messages == []


@pytest.fixture
def fake_kernels(monkeypatch):
    """A kernel package and a module that imported its function by name, as the demo does."""

    def eccentric_anomaly(mean_anomaly, ecc):
        return _solve(mean_anomaly, ecc)

    @jax.jit
    def _solve(m, e):
        return m + e * jnp.sin(m)

    eccentric_anomaly.__module__ = "diffkern._fake_kepler._solve"
    package = types.ModuleType("diffkern._fake_kepler")
    package.eccentric_anomaly = eccentric_anomaly
    user = types.ModuleType("diffkern._fake_demo")
    user.eccentric_anomaly = eccentric_anomaly
    user.fit = lambda m, e: user.eccentric_anomaly(m, e)
    monkeypatch.setitem(sys.modules, "diffkern._fake_kepler", package)
    monkeypatch.setitem(sys.modules, "diffkern._fake_demo", user)
    monkeypatch.setattr(watch_module, "KERNEL_PACKAGES", (package,))
    return package, user


def test_instrument_watches_entry_points_and_restores_them(fake_kernels):
    package, user = fake_kernels
    original = package.eccentric_anomaly
    m5, m9, e = jnp.zeros(5), jnp.zeros(9), jnp.asarray(0.2)
    with instrument() as names:
        assert names == ["eccentric_anomaly"]
        assert user.eccentric_anomaly is not original
    assert package.eccentric_anomaly is original and user.eccentric_anomaly is original
    with count_compiles() as counts:
        user.fit(m5, e)
        user.fit(m9, e)
    by_source = {(x.source, x.message) for x in counts.recompiles}
    assert by_source == {  # the entry point by its signature, its inner program by JAX's report
        ("signature", "eccentric_anomaly: recompiled because mean_anomaly shape (5,) -> (9,)"),
        ("jax", "_solve: recompiled because m shape (5,) -> (9,)"),
    }


@pytest.mark.parametrize(
    "package", [kepler, orbits, scan, gp, regression], ids=lambda p: p.__name__
)
def test_instrument_watches_every_public_function(package):
    functions = {
        name: value
        for name, value in vars(package).items()
        if not name.startswith("_") and inspect.isfunction(inspect.unwrap(value))
    }
    assert functions
    with instrument() as names:
        for name, original in functions.items():
            watched = getattr(package, name)
            assert name in names and watched is not original, f"{package.__name__}.{name}"
            assert watched.__wrapped__ is original
    assert all(getattr(package, name) is f for name, f in functions.items())


def test_watched_call_under_jit_passes_through():
    kepler = _kepler()
    outer = jax.jit(lambda m: kepler(m, jnp.asarray(0.3)) * 2)
    m = jnp.linspace(0.0, 1.0, 4)
    with count_compiles() as counts:
        out = outer(m)
    assert jnp.allclose(out, 2 * (m - 0.3 * jnp.sin(m)))
    # the inner call is traced, not run: no span, and JAX (not the signature) explains it
    assert {e.source for e in counts.explanations} == {"jax"}
