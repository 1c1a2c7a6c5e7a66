"""A failed value check inside the user's own ``jax.jit``: XLA's wrapped error that ends with
diffkern's CheckError, and ``diffkern.jit.plain_errors`` for the plain CheckError."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern import CheckError
from diffkern.jit import plain_errors
from diffkern.orbits import radial_velocity

MESSAGE = "radial_velocity: ecc must be in [0, 1)"
# A check that fails inside the caller's jit: XLA wraps the CheckError its host callback raised
# (a ValueError with the same text once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)
T = jnp.linspace(0.0, 1.0, 4)


def _rv(ecc):
    return radial_velocity(T, 3.0, 0.0, ecc, 0.0, 1.0)


rv = jax.jit(_rv)
rv_batch = jax.jit(jax.vmap(_rv))
rv_grad = jax.jit(jax.grad(lambda ecc: _rv(ecc).sum()))


def test_under_jax_jit_the_text_ends_with_the_check_error():
    for _ in range(2):  # the first call, then JAX's fast path (a ValueError)
        with pytest.raises(CALLBACK_ERRORS) as err:
            jax.block_until_ready(rv(1.5))
        text = str(err.value)
        assert text.startswith("INTERNAL: CpuCallback error calling callback:")
        assert f"CheckError: {MESSAGE}\n" in text
        assert "filter_jit" not in text and "_EquinoxRuntimeError" not in text
        assert text.rstrip().splitlines()[-1].startswith("(diffkern: ")  # one hint line
        assert not isinstance(err.value, CheckError)
        assert np.all(np.isfinite(rv(0.5)))


def test_plain_errors_raises_the_plain_check_error():
    plain = plain_errors(rv)
    with pytest.raises(CheckError) as err:
        plain(1.5)
    assert str(err.value) == MESSAGE
    assert isinstance(err.value, ValueError)
    assert err.value.__cause__ is None and err.value.__suppress_context__
    np.testing.assert_array_equal(plain(0.5), rv(0.5))  # good input: the same values


def test_plain_errors_as_a_decorator_and_around_filter_jit():
    @plain_errors
    @jax.jit
    def twice(ecc):
        return 2 * _rv(ecc)

    np.testing.assert_allclose(twice(0.5), 2 * rv(0.5))
    with pytest.raises(CheckError, match=r"^radial_velocity: ecc must be in \[0, 1\)$"):
        twice(-0.5)
    # equinox.filter_jit passes diffkern's wrapped error on unchanged; the wrapper cleans it
    with pytest.raises(CALLBACK_ERRORS, match=r"CheckError: radial_velocity: ecc"):
        eqx.filter_jit(_rv)(1.5)
    with pytest.raises(CheckError, match=r"^radial_velocity: ecc must be in \[0, 1\)$"):
        plain_errors(eqx.filter_jit(_rv))(1.5)


def test_plain_errors_passes_other_errors_through():
    def host_fails(x):
        raise RuntimeError("not diffkern's")

    fails = jax.jit(lambda x: jax.pure_callback(host_fails, jax.ShapeDtypeStruct((), x.dtype), x))
    with pytest.raises(jax.errors.JaxRuntimeError, match="RuntimeError: not diffkern's"):
        plain_errors(fails)(jnp.float32(1.0))
    with pytest.raises(TypeError, match="unsupported"):
        plain_errors(lambda x: x + "a")(1)
    with pytest.raises(CheckError, match="ecc must be in"):  # already plain: unchanged
        plain_errors(_rv)(1.5)
    with pytest.raises(TypeError, match="plain_errors"):
        plain_errors(5)


def test_jit_of_vmap_fails_only_when_an_element_does():
    # The flag is reduced over the batch before the conditional: were the conditional batched,
    # it would become a select that runs the raising callback for good batches too.
    good = jnp.asarray([0.1, 0.5, 0.9])
    np.testing.assert_allclose(rv_batch(good), jnp.stack([rv(e) for e in good]), rtol=1e-6)
    with pytest.raises(CALLBACK_ERRORS, match=r"CheckError: radial_velocity: ecc"):
        jax.block_until_ready(rv_batch(good.at[1].set(1.5)))
    with pytest.raises(CheckError, match=r"^radial_velocity: ecc must be in \[0, 1\)$"):
        plain_errors(rv_batch)(good.at[2].set(-0.1))


def test_jit_of_grad_still_raises():
    assert np.isfinite(rv_grad(0.5))
    with pytest.raises(CALLBACK_ERRORS, match=r"CheckError: radial_velocity: ecc"):
        jax.block_until_ready(rv_grad(1.5))
    with pytest.raises(CheckError, match=r"^radial_velocity: ecc must be in \[0, 1\)$"):
        plain_errors(rv_grad)(1.5)


def test_eager_vmap_raises_the_plain_check_error():
    """Outside any jit the batch's flag is known while tracing: a plain CheckError at once."""
    with pytest.raises(CheckError) as err:
        jax.vmap(_rv)(jnp.asarray([0.5, 1.5]))
    assert str(err.value) == MESSAGE


def test_one_host_callback_for_all_checks_of_a_call_naming_every_failed_one():
    """Each callback costs tens of ms of compile time: a call's checks share one."""

    @jax.jit
    def two_checks(t, period, ecc):
        return radial_velocity(t, period, 0.0, ecc, 0.0, 1.0)

    text = two_checks.lower(T, 3.0, 0.5).as_text()
    assert text.count("callback") == text.count("custom_call") == 1
    with pytest.raises(CheckError) as err:
        plain_errors(two_checks)(T, -3.0, 1.5)
    assert str(err.value) == (
        "radial_velocity: period must be finite and > 0; radial_velocity: ecc must be in [0, 1)"
    )
