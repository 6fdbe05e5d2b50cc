"""``jaxgrads ab``: the same sweep with two interpreters in alternating fresh processes, gated."""

from __future__ import annotations

from jaxgrads.cli.common_args import add_output, add_overwrite, add_problems_from, add_rounds
from jaxgrads.cli.gate import check_markdown, publish
from jaxgrads.cli.parsing import add_rule_options, rule_from, with_examples
from jaxgrads.errors import JaxgradsError

__all__ = ["add", "run"]

EPILOG = """Sweep options after the A/B ones go to both sides' `jaxgrads run`.

examples:
  jaxgrads ab --a venv-jax-old/bin/python --b .venv/bin/python --preset gate
  jaxgrads ab --a .venv/bin/python --b .venv/bin/python \\
      --a-problems-from main/problems.py --b-problems-from pr/problems.py --problems mine
"""


def add(sub) -> None:
    from jaxgrads.gate import AB_RULE
    from jaxgrads.sweep.processes import AB_MODES, DEFAULT_AB_MODE

    p = with_examples(
        sub, "ab", "A/B: the same sweep with two interpreters in alternating fresh processes", EPILOG
    )
    p.add_argument("--a", required=True, metavar="PYTHON_A", help="the reference interpreter")
    p.add_argument("--b", required=True, metavar="PYTHON_B", help="the interpreter under test")
    add_problems_from(p, "--a-problems-from")
    add_problems_from(p, "--b-problems-from")
    add_rounds(p, "A B pairs")
    p.add_argument(
        "--mode", choices=AB_MODES, default=DEFAULT_AB_MODE,
        help="alternate: A and B one after the other; duet: at once, each on its own CPU (%(default)s)",
    )  # fmt: skip
    add_output(p, "DIR", "round CSVs (%(default)s)", default="results/ab", replaces=("--out-dir",))
    add_rule_options(p, AB_RULE)
    add_overwrite(p, "the round CSVs of an earlier A/B")


def run(args, run_args: list[str]) -> int:
    from jaxgrads import gate
    from jaxgrads.cli.run import forwarded_sweep
    from jaxgrads.results.files import output_folder
    from jaxgrads.sweep.processes import Side, ab_confirm, ab_rounds, check_side, duet_cpus
    from jaxgrads.validation import positive_int

    rule = rule_from(args)
    rounds = positive_int("--rounds", args.rounds)
    check_markdown(args.markdown)
    forwarded_sweep("ab", run_args, plugins=False, load=[*args.a_problems_from, *args.b_problems_from])
    out_dir = output_folder(args.output, "--output")
    existing = sorted(out_dir.glob("[ab][0-9]*.csv"))
    if existing and not args.overwrite:
        raise JaxgradsError(f"{out_dir} holds an earlier A/B ({existing[0].name}); pass --overwrite")
    sides = (Side("A", args.a, tuple(args.a_problems_from)), Side("B", args.b, tuple(args.b_problems_from)))
    if args.mode == "duet":
        duet_cpus()  # refused before any round on a one-CPU machine
    for side in sides:
        check_side(side)
    a, b = ab_rounds(sides, run_args, rounds, out_dir, args.mode)
    confirm = None if args.no_confirm else ab_confirm(sides, b, out_dir)
    return publish(
        gate.compare(a, b, rule, confirm=confirm, same_machine=True, strict=args.strict), args.markdown
    )
