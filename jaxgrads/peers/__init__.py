"""Other frameworks on the same problems: each peer registers its methods with the method registry
(the registry itself never imports a peer)."""
