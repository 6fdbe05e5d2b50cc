"""One spelling per option across the commands: every output location is -o/--output (the old
spellings accepted for a release, with a warning), --rounds declared once; and the columns a row
carries from its case."""

import argparse
import re
from pathlib import Path

import pandas as pd
from clitools import FAST, jaxgrads

from jaxgrads.cli.main import make_parser

ROOT = Path(__file__).resolve().parents[1]


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in make_parser()._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, parser in sub.choices.items():
        nested = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        for n in nested:  # history's subcommands
            out |= {f"{name} {k}": p for k, p in n.choices.items()}
        out[name] = parser
    return out


def test_every_output_location_is_spelled_o_output():
    spelled = {}
    for name, parser in _commands().items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                continue  # an old spelling, accepted for a release
            for flag in action.option_strings:
                if re.fullmatch(r"--out(put)?(-dir)?|-o", flag):
                    spelled.setdefault(flag, set()).add(name)
    assert set(spelled) <= {"-o", "--output"}, spelled


def test_rounds_is_declared_once():
    declared = re.compile(r'add_argument\(\s*"--rounds"')
    sources = [p for p in (ROOT / "jaxgrads").rglob("*.py") if declared.search(p.read_text())]
    assert [p.relative_to(ROOT).as_posix() for p in sources] == ["jaxgrads/cli/common_args.py"]


def test_the_old_output_spellings_still_work_and_say_what_replaces_them(tmp_path):
    run = tmp_path / "run.csv"
    made = jaxgrads("run", "--problems", "inner", "--wrt", "x", "--methods", "analytic", "--sizes", "8",
                    *FAST, "-o", str(run))  # fmt: skip
    assert made.returncode == 0, made.stderr
    old = jaxgrads("plot", str(run), "--out", str(tmp_path / "figs"))
    assert old.returncode == 0, old.stderr
    warned = "jaxgrads: warning: --out is replaced by -o/--output (accepted until the next release)"
    assert old.stderr.splitlines()[0] == warned
    assert list((tmp_path / "figs").glob("*.png"))
    missing = jaxgrads("plot", str(run))
    assert missing.returncode == 2
    assert missing.stderr.strip() == "jaxgrads: error: the following arguments are required: --output/-o"
    (tmp_path / "blocker").write_text("")
    ab = jaxgrads("ab", "--a", "python3", "--b", "python3", "--out-dir", str(tmp_path / "blocker"))
    assert ab.returncode == 2
    assert ab.stderr.strip().splitlines() == [
        "jaxgrads: warning: --out-dir is replaced by -o/--output (accepted until the next release)",
        f"jaxgrads: error: --output {tmp_path / 'blocker'} is a file; give a folder",
    ]


def test_a_row_carries_its_cases_steps_basis_and_memory(tmp_path):
    out = tmp_path / "run.csv"
    methods = ("jacrev", "map_vjp", "jacrev_chunked")
    result = jaxgrads("run", "--problems", "matvec", "--wrt", "x", "--methods", *methods, "--chunk-sizes",
                      "5", "--sizes", "12x8", *FAST, "-o", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(out).set_index("method")
    assert rows.loc["jacrev", "steps"] == 1
    assert rows.loc["map_vjp", "steps"] == 12  # one VJP per output element of y = A x, A 12x8
    assert rows.loc["jacrev_chunked", "steps"] == 3  # 12 outputs in chunks of 5
    assert (rows["basis"] == 12).all()
    assert (rows["memory_bytes"] > rows["jac_bytes"]).all()
