"""``jaxgrads releases``: one sweep under several jax releases (and XLA flag configurations), side by side.

A *configuration* is a jax release, optionally with XLA flags (``0.4.38`` and
``0.4.38-legacy=0.4.38:--xla_cpu_use_thunk_runtime=false`` are two) or, for a calibration, further
environment variables and plug-ins. Each runs in its release's environment, made on first use and
cached outside the checkout (:mod:`jaxgrads.history.environments`), importing this source tree, so
every release runs the same jaxgrads code (what differs between releases is in
:mod:`jaxgrads.compat`). The release ``current`` is the jax this interpreter has, run by this
interpreter: XLA flags compared on a machine that reaches no package index.

The rounds alternate as ``jaxgrads ab``'s do: round 1 runs every configuration in order, round 2 in
reverse, and so on, each in a fresh process, so a machine that drifts during the measurement
drifts under every configuration alike instead of painting a step between two of them. Round 1 also
counts instructions under callgrind (``--instructions``: deterministic, so once is enough); the
rounds' samples are pooled per configuration (:func:`jaxgrads.sweep.processes.pool_csvs`).

The results folder (``results/releases/`` by default) is the history keyed by release::

    releases.json              what it measures: the sweep options and the configurations, in order
    <config>/round<k>.csv      a round's run (written under a temporary name, renamed when whole)
    <config>/pooled.csv        the rounds pooled: what the steps compare
    steps.csv, table.csv       the steps between adjacent configurations; every kernel's figures

A killed call resumes: a round whose file is whole is not run again. The same folder with other
sweep options or configurations is refused unless ``--overwrite``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from jaxgrads.errors import JaxgradsError
from jaxgrads.history.environments import RELEASE, release_environment, source_root

__all__ = [
    "DEFAULT_CONFIGS",
    "DEFAULT_FOLDER",
    "Config",
    "Measured",
    "measure_releases",
    "order",
    "parse_config",
]

DEFAULT_FOLDER = Path("results") / "releases"
CURRENT = "current"  # the release this interpreter has
# 0.4.30 to 0.10.2: the last release before the thunk CPU runtime (0.4.31), the first ones with it,
# and the last of each minor series since
DEFAULT_RELEASES = ("0.4.30", "0.4.31", "0.4.34", "0.4.38", "0.5.0", "0.5.3", "0.6.2", "0.7.2", "0.8.0",
                    "0.9.2", "0.10.2")  # fmt: skip


@dataclass(frozen=True)
class Measured:
    """What :func:`measure_releases` measured: the configurations in order, each one's pooled run and
    its process settings (a :class:`~jaxgrads.sweep.processes.Side`, for confirmation rounds), by name."""

    configs: list
    runs: dict
    sides: dict
    folder: Path


@dataclass(frozen=True)
class Config:
    """One configuration: a name (a file name: ``[A-Za-z0-9._+-]``), its release, its XLA flags, and
    (calibrations) further environment variables and plug-ins."""

    name: str
    release: str
    xla_flags: str = ""
    env: tuple[tuple[str, str], ...] = ()
    problems_from: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9._+-]+", self.name):
            raise JaxgradsError(f"configuration name {self.name!r}: use letters, digits and . _ + -")
        if self.release != CURRENT and not RELEASE.match(self.release):
            raise JaxgradsError(
                f"configuration {self.name}: jax release {self.release!r}; expected e.g. 0.4.30"
            )


DEFAULT_CONFIGS = tuple(Config(v, v) for v in DEFAULT_RELEASES) + (
    # the CPU runtime before 0.4.32's switch to thunks, still selectable then: the switch's own cost
    Config("0.4.38-legacy", "0.4.38", "--xla_cpu_use_thunk_runtime=false"),
)


def parse_config(text: str) -> Config:
    """``0.5.0`` (a release as it is) or ``NAME=RELEASE[:XLA_FLAGS]``; one line when malformed."""
    name, sep, rest = text.partition("=")
    if not sep:
        return Config(text, text)
    release, _, flags = rest.partition(":")
    if not name or not release:
        raise JaxgradsError(f"--config {text!r}: expected RELEASE or NAME=RELEASE[:XLA_FLAGS]")
    return Config(name, release, flags.strip())


def _version(release: str) -> tuple[int, ...]:
    if release == CURRENT:
        from importlib.metadata import version

        release = version("jax").split("+")[0].split(".dev")[0]
    return tuple(int(p) for p in re.findall(r"\d+", release)[:4])


def order(configs: Sequence[Config]) -> list[Config]:
    """By release, oldest first; a release's configurations in the order given. Duplicate names are
    a one-line error."""
    names = [c.name for c in configs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise JaxgradsError(f"configuration {twice[0]!r} given twice; name each configuration once")
    return sorted(configs, key=lambda c: _version(c.release))  # stable: the given order within a release


def _side(config: Config, python: str):
    from jaxgrads.sweep.processes import Side

    path = os.pathsep.join(filter(None, [str(source_root()), os.environ.get("PYTHONPATH")]))
    env = [("PYTHONPATH", path), *config.env]
    if config.xla_flags:  # first: an older XLA stops reading at a word that is not a flag
        env.append(("XLA_FLAGS", f"{config.xla_flags} {os.environ.get('XLA_FLAGS', '')}".strip()))
    return Side(config.name, python, config.problems_from, tuple(env))


def _check_folder(out: Path, manifest: dict, overwrite: bool) -> None:
    path = out / "releases.json"
    if path.is_file():
        earlier = json.loads(path.read_text(encoding="utf-8"))
        if earlier != manifest and not overwrite:
            raise JaxgradsError(f"{out} holds a releases run with other options or configurations; "
                                "pass --overwrite (or another -o)")  # fmt: skip
    if overwrite:
        for c in manifest["configs"]:
            shutil.rmtree(out / c["name"], ignore_errors=True)
        for name in ("steps.csv", "table.csv"):
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    from jaxgrads.results.files import atomic_write_text

    atomic_write_text(path, json.dumps(manifest, indent=1) + "\n")


def _whole(path: Path) -> bool:
    from jaxgrads.results.schema import read_results

    try:
        read_results(path, require_timed=True)
    except (JaxgradsError, OSError):
        return False
    return True


def _round(side, args: Sequence[str], path: Path) -> Path:
    """One round of one configuration, written under a temporary name and renamed when whole."""
    from jaxgrads.results.schema import samples_path
    from jaxgrads.sweep.processes import run_child

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}")
    run_child(side, args, partial)
    if samples_path(partial).is_file():
        os.replace(samples_path(partial), samples_path(path))
    os.replace(partial, path)
    return path


def measure_releases(
    configs: Sequence[Config],
    run_args: Sequence[str],
    out: str | Path = DEFAULT_FOLDER,
    *,
    rounds: int = 3,
    overwrite: bool = False,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> Measured:
    """Measures ``run_args`` under every configuration, ``rounds`` alternating rounds (the first
    counted when ``--instructions`` is among them), each configuration's rounds pooled.

    Refused with one line before any round: fewer than two configurations, a release whose
    environment cannot be made, a configuration whose process cannot start jax (a bad XLA flag).
    """
    from jaxgrads.sweep.processes import check_side, pooled_run, round_args

    configs = order(configs)
    if len(configs) < 2:
        raise JaxgradsError("releases compares configurations: give two at least")
    out = Path(out)
    manifest = {"sweep": list(run_args), "configs": [asdict(c) | {"env": [list(e) for e in c.env],
                "problems_from": list(c.problems_from)} for c in configs]}  # fmt: skip
    _check_folder(out, manifest, overwrite)
    pythons = {}
    for release in dict.fromkeys(c.release for c in configs):
        log(f"jax {release}: environment")
        pythons[release] = sys.executable if release == CURRENT else release_environment(release, log)
    sides = [_side(c, pythons[c.release]) for c in configs]
    for side in sides:
        check_side(side)
    paths: dict[str, list[Path]] = {c.name: [] for c in configs}
    for r in range(1, rounds + 1):
        for side in sides if r % 2 else sides[::-1]:
            path = out / side.name / f"round{r}.csv"
            if _whole(path):
                log(f"round {r}/{rounds}: {side.name}: kept from an earlier call")
            else:
                log(f"round {r}/{rounds}: {side.name}")
                _round(side, round_args(run_args, r), path)
            paths[side.name].append(path)
    runs = {c.name: pooled_run(paths[c.name], out / c.name / "pooled.csv", c.name) for c in configs}
    return Measured(configs, runs, {s.name: s for s in sides}, out)
