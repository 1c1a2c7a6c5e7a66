"""Scan benchmarks: linear recurrences (sequential vs associative vs scipy's lfilter) and
checkpointed vs plain reverse mode (time here; compiled memory in extra_info)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import sizes

from diffkern.scan import checkpointed_scan, linear_recurrence

METHODS = ["sequential", "associative"]
C = 0.999


def _signal(n):
    return np.random.default_rng(0).normal(size=n).astype(np.float32)


def _reference(x):
    signal = pytest.importorskip("scipy.signal")
    return signal.lfilter([1.0], [1.0, -C], x.astype(np.float64))


def _check(h, ref):
    # float32 accumulation over N steps with |a| -> 1: relative to the signal's running scale.
    np.testing.assert_allclose(h, ref, atol=1e-3 * (1 + np.abs(ref).max()))


@pytest.mark.parametrize("library", [f"diffkern:{m}" for m in METHODS] + ["scipy"])
@pytest.mark.parametrize("n", sizes([10**3, 10**4, 10**5, 10**6]))
def test_linear_recurrence_value(bench, n, library):
    x = _signal(n)
    ref = _reference(x)
    group = f"linear_recurrence value float32 N={n}"
    if library == "scipy":
        from scipy.signal import lfilter

        a = np.array([1.0, -C], np.float32)
        out = bench(
            lambda x: lfilter(np.ones(1, np.float32), a, x),
            x,
            group=group,
            library="scipy",
            n=n,
            dtype="float32",
        )
    else:
        method = library.split(":")[1]
        a = jnp.full(n, C, jnp.float32)
        fn = jax.jit(lambda a, x: linear_recurrence(a, x, method=method))
        out = bench(fn, a, jnp.asarray(x), group=group, library=library, n=n, dtype="float32")
    _check(np.asarray(out), ref)


def _value_and_grad(method):
    loss = lambda a, x: jnp.sum(linear_recurrence(a, x, method=method) ** 2)
    return jax.jit(jax.value_and_grad(loss, (0, 1)))


def _check_grad(x, gx):
    # d/dx_t sum h^2 = 2 sum_{s>=t} C^{s-t} h_s: the reverse recurrence, checked against lfilter.
    h = _reference(np.asarray(x))
    _check(np.asarray(gx), 2 * _reference(h[::-1])[::-1])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", sizes([10**3, 10**4, 10**5, 10**6]))
def test_linear_recurrence_value_and_grad(bench, n, method):
    """Reverse mode runs the adjoint recurrence: compare with the value group for the ratio."""
    x = jnp.asarray(_signal(n))
    a = jnp.full(n, C, jnp.float32)
    _, (_, gx) = bench(
        _value_and_grad(method),
        a,
        x,
        group=f"linear_recurrence value+grad float32 N={n}",
        library=f"diffkern:{method}",
        n=n,
        dtype="float32",
    )
    _check_grad(x, gx)


def _program_size(fn, *args) -> dict:
    """Instructions of the lowered (StableHLO) and the optimised (HLO) program."""
    lowered = fn.lower(*args)
    count = lambda text, mark: sum(mark in line for line in text.splitlines())
    return {
        "stablehlo_ops": count(lowered.as_text(), " = stablehlo."),
        "hlo_ops": count(lowered.compile().as_text(), " = "),
    }


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("n", sizes([10**3, 10**4, 10**5, 10**6]))
def test_linear_recurrence_compile(bench_compile, n, method):
    """Trace + compile + first run of value+grad. Both methods keep one program size for all N
    (stablehlo_ops, hlo_ops in extra_info); lax.associative_scan would unroll log2 N levels."""
    x = jnp.asarray(_signal(n))
    a = jnp.full(n, C, jnp.float32)
    fn = _value_and_grad(method)
    _check_grad(x, fn(a, x)[1][1])
    bench_compile(
        fn,
        a,
        x,
        group=f"compile linear_recurrence value+grad float32 N={n}",
        library=f"diffkern:{method}",
        n=n,
        dtype="float32",
        **_program_size(fn, a, x),
    )


def _tanh_problem(n, state=256):
    w = jnp.linspace(0.5, 1.5, state, dtype=jnp.float32)
    xs = jnp.asarray(_signal(n))
    init = jnp.zeros(state, jnp.float32)
    return w, init, xs


def _memory_info(compiled) -> dict:
    """Compiled memory in bytes: temporaries (the residuals live here), and arguments + outputs
    + temporaries, an upper bound of the peak. Empty where the backend gives no analysis."""
    mem = compiled.memory_analysis()
    if mem is None:
        return {}
    io = mem.argument_size_in_bytes + mem.output_size_in_bytes - mem.alias_size_in_bytes
    return {"temp_bytes": mem.temp_size_in_bytes, "total_bytes": io + mem.temp_size_in_bytes}


@pytest.mark.parametrize("checkpoint", [None, "sqrt"])
@pytest.mark.parametrize("n", sizes([10**3, 10**4, 10**5, 10**6], smoke=16))
def test_checkpointed_scan_grad(bench, n, checkpoint):
    """At N = 10^6 the plain scan keeps 2 GB of residuals (temp_bytes), "sqrt" about 3 MB."""
    w, init, xs = _tanh_problem(n)

    def loss(init, xs, checkpoint):
        step = lambda c, x: (jnp.tanh(c * w + x), None)
        return jnp.sum(checkpointed_scan(step, init, xs, checkpoint=checkpoint)[0])

    grad = jax.jit(jax.grad(loss, (0, 1)), static_argnums=2)
    reference = grad(init, xs, None)
    out = bench(
        lambda i, x: grad(i, x, checkpoint),
        init,
        xs,
        group=f"checkpointed_scan grad state=256 float32 N={n}",
        library=f"diffkern:{checkpoint or 'plain'}",
        n=n,
        dtype="float32",
        **_memory_info(grad.lower(init, xs, checkpoint).compile()),
    )
    for o, r in zip(out, reference):
        np.testing.assert_allclose(o, r, rtol=1e-6, atol=1e-7)
