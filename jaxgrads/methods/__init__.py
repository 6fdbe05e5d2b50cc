"""The ways to compute a derivative: the registry (``registry``), the JAX methods by family
(``vectorized``, ``walks``, ``sharded``, ``colored``, ``hessians``, ``batched``, ``closed_forms``),
and the peers' (:mod:`jaxgrads.peers`).

Importing this package registers the JAX families, in the order listings show them; it knows no
peer. The peers register themselves when imported (:mod:`jaxgrads.peers`), which the measure layer
does (``jaxgrads.measure``): whatever measures or lists methods sees them all.
"""

from jaxgrads.methods import registry
from jaxgrads.methods.batched import BATCHED
from jaxgrads.methods.closed_forms import CLOSED_FORMS
from jaxgrads.methods.colored import COLORED
from jaxgrads.methods.common import partial_fn
from jaxgrads.methods.hessians import HESSIANS
from jaxgrads.methods.registry import *  # noqa: F403  (the surface: the registry's __all__)
from jaxgrads.methods.sharded import SHARDED
from jaxgrads.methods.vectorized import VECTORIZED
from jaxgrads.methods.walks import WALKS

__all__ = [*registry.__all__, "partial_fn"]

for _method in (*VECTORIZED, *WALKS, *SHARDED, *COLORED, *HESSIANS, *BATCHED, *CLOSED_FORMS):
    registry.register_method(_method)
