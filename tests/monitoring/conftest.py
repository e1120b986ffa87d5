"""Fixtures of the monitoring tests: the generated clips of the compliance tests."""

from tests.cases.conftest import clips  # noqa: F401 - a fixture, used by name
