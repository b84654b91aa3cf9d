"""Project-wide pytest setup: Hypothesis profiles shared by the suites and the project's tests.

Profiles: ``default`` keeps the run fast; ``deep`` explores 20x more examples (opt in with
``--hypothesis-profile=deep`` or ``HYPOTHESIS_PROFILE=deep``); ``ci`` is ``default`` with
derandomised examples so CI failures reproduce.
"""

import os

from hypothesis import HealthCheck, settings

_DEFAULT_EXAMPLES = 50

settings.register_profile(
    "default",
    max_examples=_DEFAULT_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "deep",
    max_examples=_DEFAULT_EXAMPLES * 20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("ci", settings.get_profile("default"), derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
