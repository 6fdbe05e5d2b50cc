"""``jaxgrads releases``: the same sweep under several jax releases and XLA flag configurations, gated."""

from __future__ import annotations

from jaxgrads.cli.common_args import add_output, add_overwrite, add_rounds
from jaxgrads.cli.parsing import add_rule_options, rule_from, with_examples
from jaxgrads.errors import JaxgradsError

__all__ = ["add", "run"]

EPILOG = """Sweep options after these go to every configuration's `jaxgrads run` (default: --preset
releases --instructions). Each release's environment is made on first use in ~/.cache/jaxgrads
($JAXGRADS_CACHE). Exit status 1 when a step between adjacent configurations is a regression.

examples:
  jaxgrads releases                                     the default releases, 0.4.30 to 0.10.2
  jaxgrads releases --releases 0.4.31 0.4.34 --config legacy=0.4.34:--xla_cpu_use_thunk_runtime=false
  jaxgrads releases --releases current --config fast=current:--xla_cpu_enable_fast_math=true
                                                        this interpreter's jax, with and without a flag
  jaxgrads releases --releases 0.10.1 0.10.2 -o results/my-releases --instructions \\
      --function bench/examples/models.py:loss --args-from bench/examples/models.py:loss_args
"""
DEFAULT_SWEEP = ["--preset", "releases", "--instructions"]


def add(sub) -> None:
    from jaxgrads.gate import AB_RULE
    from jaxgrads.history.releases import DEFAULT_CONFIGS, DEFAULT_FOLDER

    what = "The same sweep under several jax releases, gated step by step"
    p = with_examples(sub, "releases", what, EPILOG)
    p.add_argument("--releases", nargs="+", metavar="VERSION",
                   help=f"jax releases, each as it is ({' '.join(c.name for c in DEFAULT_CONFIGS)})")
    p.add_argument("--config", action="append", default=[], metavar="NAME=RELEASE[:XLA_FLAGS]",
                   help="one more configuration: a release with XLA flags (repeatable)")  # fmt: skip
    add_rounds(p, "alternating rounds")
    add_output(p, "DIR", "the releases' runs, steps and table (%(default)s)", default=str(DEFAULT_FOLDER))
    add_rule_options(p, AB_RULE)
    add_overwrite(p, "an earlier releases run in DIR with other options")


def run(args, run_args: list[str]) -> int:
    import sys

    from jaxgrads.cli.gate import check_markdown
    from jaxgrads.cli.run import forwarded_sweep
    from jaxgrads.history.release_steps import record, releases_markdown
    from jaxgrads.history.releases import DEFAULT_CONFIGS, Config, measure_releases, parse_config
    from jaxgrads.results.files import atomic_write_text, output_folder
    from jaxgrads.validation import positive_int

    rule = rule_from(args)
    rounds = positive_int("--rounds", args.rounds)
    check_markdown(args.markdown)
    configs = [Config(v, v) for v in args.releases] if args.releases else list(DEFAULT_CONFIGS)
    configs += [parse_config(c) for c in args.config]
    run_args = run_args or DEFAULT_SWEEP
    forwarded_sweep("releases", run_args, plugins=True)
    out = output_folder(args.output, "--output")
    measured = measure_releases(configs, run_args, out, rounds=rounds, overwrite=args.overwrite)
    table, found = record(measured, rule, confirm=not args.no_confirm)
    text = releases_markdown(table, found)
    if args.markdown:
        atomic_write_text(args.markdown, text)
    print(text, end="")
    regressions = int((found["step"] == "regression").sum())
    print(f"{regressions} regression step(s) over {len(measured.configs)} configurations -> {out}",
          file=sys.stderr)  # fmt: skip
    if regressions == 0 and found.empty:
        raise JaxgradsError("releases: no kernel was timed under two adjacent configurations")
    return 1 if regressions else 0
