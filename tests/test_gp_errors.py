"""Errors of the GP front end name the offending kernel and what to use instead."""

import numpy as np
import pytest

import diffkern.gp as gp

QP = gp.QuasiPeriodic(1.0, 2.0, 3.0, 0.5)


@pytest.mark.parametrize(
    ("kernel", "where"),
    [
        (QP, ""),
        (QP + gp.Matern32(1.0), " (in Sum)"),
        (2.0 * gp.Matern32(1.0) * QP, " (in Product)"),
    ],
)
def test_quasisep_names_the_part_without_a_state_space_form(kernel, where):
    with pytest.raises(ValueError) as error:
        gp.GaussianProcess(kernel, np.arange(5.0), diag=1.0, solver="quasisep")
    message = str(error.value)
    assert f"does not support kernel QuasiPeriodic{where}: it has no state-space form" in message
    assert "solver='cholesky'" in message and "solver='auto'" in message
    # The alternatives it names work.
    for solver in ("cholesky", "auto"):
        gp.GaussianProcess(kernel, np.arange(5.0), diag=1.0, solver=solver)
