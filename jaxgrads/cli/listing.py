"""``jaxgrads list``: the problems, their derivatives and the methods that apply to each."""

from __future__ import annotations

import json

from jaxgrads.cli.common_args import add_problems_from

__all__ = ["add", "run"]


def add(sub) -> None:
    p = sub.add_parser("list", help="problems, their wrt arguments and applicable methods")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_problems_from(p)


def run(args) -> int:
    import jaxgrads.measure  # noqa: F401  (every method registered: the JAX families, then the peers)
    from jaxgrads.methods import applicable_methods
    from jaxgrads.problems import list_problems
    from jaxgrads.problems.plugins import load_problems

    load_problems(args.problems_from)
    listing = [
        {
            "problem": p.name,
            "doc": p.doc,
            "wrt": {
                d.name: {"doc": d.doc, "methods": list(applicable_methods(p, d.name))} for d in p.derivatives
            },
        }
        for p in list_problems()
    ]
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for p in listing:
        print(f"{p['problem']}: {p['doc']}")
        for wrt, d in p["wrt"].items():
            print(f"  {wrt:<3} {d['doc']}")
            print(f"      methods: {', '.join(d['methods'])}")
    return 0
