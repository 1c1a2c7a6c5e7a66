"""Example budgets of the contract tests (``tests/test_contract_*.py``).

In CI (the default "ci" hypothesis profile) each property draws its small, fixed budget of
derandomised examples. ``HYPOTHESIS_PROFILE=nightly`` draws new examples every run and
multiplies every budget by ``DIFFKERN_CONTRACT_SCALE`` (default 50). A failing example is
reported as drawn, without shrinking (each example runs compiled programs: shrinking one takes
minutes).
"""

import os

import pytest
from hypothesis import Phase, settings

from diffkern import CheckError

NIGHTLY = os.environ.get("HYPOTHESIS_PROFILE") == "nightly"
SCALE = int(os.environ.get("DIFFKERN_CONTRACT_SCALE", "50")) if NIGHTLY else 1


def budget(examples: int) -> int:
    """The number of examples a property tries: ``examples`` in CI, scaled in nightly runs."""
    return examples * SCALE


def contract(examples: int) -> settings:
    """Hypothesis settings of one contract property: :func:`budget` examples, no shrinking."""
    return settings(
        max_examples=budget(examples),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    )


def assert_check_errors(call, where: str, messages: list[str]) -> None:
    """``call()`` raises one CheckError that names each of ``messages`` (prefixed ``where``)."""
    with pytest.raises(CheckError) as err:
        call()
    for message in messages:
        assert f"{where}: {message}" in str(err.value)
