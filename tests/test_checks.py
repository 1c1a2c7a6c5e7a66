"""Run-time value checks: host errors from checked entry points, error_if elsewhere."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from diffkern._checks import CheckError, checked, error_if, error_if_each


def _sqrt(x):
    return jnp.sqrt(error_if(x, x < 0, "x must be >= 0"))


def _scan_sqrt(x):
    def body(carry, xi):
        return carry, error_if(xi, xi < 0, "each x must be >= 0")

    return jax.lax.scan(body, 0.0, x)[1]


checked_sqrt = checked(_sqrt)
checked_scan = checked(_scan_sqrt)
checked_outer = checked(lambda x: checked_sqrt(x) + 1)
checked_vmap = checked(lambda x: jax.vmap(jax.vmap(_sqrt))(x) + 1)


def test_checked_entry_point_raises_on_the_host_with_no_callback():
    x = jnp.asarray([4.0, 9.0])
    assert jnp.allclose(checked_sqrt(x), jnp.asarray([2.0, 3.0]))
    with pytest.raises(CheckError, match="x must be >= 0") as err:
        checked_sqrt(jnp.asarray([4.0, -1.0]))
    assert isinstance(err.value, ValueError) and isinstance(err.value, eqx.EquinoxRuntimeError)
    text = jax.jit(lambda x: checked(_sqrt)(x)).lower(x).as_text()
    assert "callback" in text  # inside the caller's jit: diffkern's host callback
    # called eagerly: one program whose conditions are outputs, no callback
    assert "callback" not in checked_sqrt.lower(x).as_text()


def test_checks_hold_inside_jit_grad_and_vmap():
    bad = jnp.asarray([4.0, -1.0])
    with pytest.raises(Exception, match="x must be >= 0"):  # the caller's jit: a callback
        jax.block_until_ready(jax.jit(checked_sqrt)(bad))
    with pytest.raises(CheckError, match="x must be >= 0"):
        jax.grad(lambda x: checked_sqrt(x).sum())(bad)
    with pytest.raises(CheckError, match="x must be >= 0"):  # eager vmap: known while tracing
        jax.block_until_ready(jax.vmap(checked_sqrt)(bad))
    assert jnp.allclose(jax.grad(lambda x: checked_sqrt(x))(4.0), 0.25)


def test_nested_entry_points_and_checks_in_scan_bodies():
    with pytest.raises(CheckError, match="x must be >= 0"):
        checked_outer(jnp.asarray(-1.0))
    assert float(checked_outer(jnp.asarray(4.0))) == 3.0
    with pytest.raises(CheckError) as err:  # the callback's error in a scan body, made plain
        checked_scan(jnp.asarray([1.0, -1.0]))
    assert str(err.value) == "each x must be >= 0"


def test_checks_under_vmap_inside_an_entry_point_are_outputs_too():
    """A condition batched by ``vmap`` in the body fails when any element does: raised on the
    host, with no callback in the program."""
    good = jnp.asarray([[4.0, 9.0], [1.0, 0.0]])
    assert "callback" not in checked_vmap.lower(good).as_text()
    assert jnp.allclose(checked_vmap(good), jnp.asarray([[3.0, 4.0], [2.0, 1.0]]))
    with pytest.raises(CheckError, match="x must be >= 0"):
        checked_vmap(good.at[1, 0].set(-1.0))


def test_checks_survive_programs_that_keep_only_derivatives():
    """Under ``jit(grad(f))`` the checked value itself is dead code; its derivative still
    depends on the check, so a bad input raises instead of giving a silent gradient."""
    from diffkern import radial_velocity

    t = jnp.linspace(0.0, 1.0, 4)

    def f(t, ecc):
        return radial_velocity(t, 3.0, 0.0, ecc, 0.0, 1.0).sum()

    assert jnp.all(jnp.isfinite(jax.jit(jax.grad(f))(t, 0.5)))
    for transform in (jax.grad, lambda f: jax.vmap(jax.grad(f), (0, None))):
        with pytest.raises(Exception, match=r"ecc must be in \[0, 1\)"):
            jax.block_until_ready(jax.jit(transform(f))(t, 1.5))
    with pytest.raises(Exception, match="x must be >= 0"):
        jax.block_until_ready(jax.jit(jax.grad(lambda x: 0 * _sqrt(x)))(-1.0))
    hessian = jax.hessian(lambda x: _sqrt(x))(4.0)
    assert jnp.allclose(hessian, -1 / 32)


def _positive_and_small(x):
    return error_if_each(x * 2, [(x <= 0, "x must be > 0"), (x >= 10, "x must be < 10")])


checked_each = checked(_positive_and_small)


def test_error_if_each_names_every_failed_check():
    assert jnp.allclose(checked_each(jnp.asarray([1.0, 2.0])), jnp.asarray([2.0, 4.0]))
    with pytest.raises(CheckError, match=r"^x must be > 0; x must be < 10$"):
        checked_each(jnp.asarray([-1.0, 20.0]))
    with pytest.raises(CheckError, match=r"^x must be < 10$"):
        checked_each(jnp.asarray([1.0, 20.0]))
    with pytest.raises(Exception, match="x must be > 0"):  # the caller's jit: a callback
        jax.block_until_ready(jax.jit(checked_each)(jnp.asarray([-1.0])))


def test_flags_of_many_checks_share_one_reduction_per_shape():
    """40 checks of one shape, others of another shape and a scalar: each flag is jnp.any of
    its own predicate, also under jit and vmap; one reduction per shape."""
    from diffkern._checks import any_each

    x = jnp.arange(12.0).reshape(3, 4)
    preds = [x == k for k in range(0, 40, 3)] + [x > 100.0] * 27 + [x[0] > 2.0, x[0, 0] > 1.0]
    expected = [bool(jnp.any(p)) for p in preds]
    assert [bool(f) for f in any_each(preds)] == expected
    assert [bool(f) for f in jax.jit(any_each)(preds)] == expected
    batched = jax.vmap(lambda x: jnp.stack(any_each([x == 5.0, x > 6.0, x < 0.0])))(x)
    assert batched.tolist() == [[False, False, False], [True, True, False], [False, True, False]]
    hlo = jax.jit(any_each).lower(preds).as_text()
    assert hlo.count("stablehlo.reduce") == 2  # one for (3, 4), one for (4,)
