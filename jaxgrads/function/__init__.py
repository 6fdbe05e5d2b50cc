"""Your own function, in one call: :func:`compare` (``compare.py``), the function and its arguments
as a problem of their own (``problem.py``, pytrees through ``trees.py``), and the advice that reads
its table (``advice.py``)."""

from jaxgrads.function.advice import picks, recommend, ties
from jaxgrads.function.advise import Advice, advise
from jaxgrads.function.compare import Comparison, compare
from jaxgrads.function.problem import function_problem

__all__ = ["Advice", "advise", "Comparison", "compare", "function_problem", "picks", "recommend", "ties"]
