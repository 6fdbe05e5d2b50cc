"""Running many cases: what to run (``config``, ``options``), the cases and their memory (``plan``),
measuring and writing them (``run``), continuing an interrupted run (``resume``), and sweeps in child
processes: A/B rounds, baseline rounds, confirmation runs (``processes``)."""
# ruff: noqa: F403  (the public surface is the submodules' __all__, listed once there)

from jaxgrads.sweep import config as _config
from jaxgrads.sweep import plan as _plan
from jaxgrads.sweep import resume as _resume
from jaxgrads.sweep import run as _run
from jaxgrads.sweep.config import *
from jaxgrads.sweep.plan import *
from jaxgrads.sweep.resume import *
from jaxgrads.sweep.run import *

__all__ = [*_config.__all__, *_plan.__all__, *_resume.__all__, *_run.__all__]
