# Every target creates .venv and installs what it needs on first use: a fresh clone needs only
# Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= test,plot
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: help lint test test-long test-all test-machines test-browser bench bench-quick bench-pytest gate baseline budgets floor closed-forms devices sparse peers calibrate-gate history site advise-study compare-docs releases clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-15s %s\n", $$1, $$2}'

# --no-compile, then compileall on every CPU: pip byte-compiles one file after another (the test and
# plot extras here: 41 s to install without it, 57 s with it). Byte-compiled here, not left to the first
# import: where PYTHONDONTWRITEBYTECODE is set no import writes them,
# and every process compiled jax, pandas and matplotlib again: 4 s more per process
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "jaxgrads needs Python 3.11+; set PYTHON=python3.11"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-compile -e ".[$(EXTRAS)]"
	@# a file that does not compile (a dependency's Python 2 test data) is left to its import, if any
	$(PY) -m compileall -q -j 0 $(VENV)/lib > /dev/null || true
	touch $(STAMP)

lint: $(STAMP)  ## ruff over the package, tests and bench
	$(VENV)/bin/ruff check jaxgrads tests bench

# a worker per CPU; each test file on one worker (its module fixtures measured once), but for the
# files of independent kernel checks, spread test by test (tests/conftest.py: SPREAD)
XDIST := -n auto --dist loadgroup

test: $(STAMP)  ## The quick tier: every room (units, small end-to-end runs, every CLI error); minutes
	$(PY) -m pytest -q $(XDIST) -m "not slow"

test-long: $(STAMP)  ## The long tier alone: real sweeps in subprocesses, every kernel grid, callgrind, the browser
	$(PY) -m pytest -q $(XDIST) -m slow

test-all: $(STAMP)  ## Both tiers
	$(PY) -m pytest -q $(XDIST)

# the quick tier on machines this one is not: a CPU model and cache layouts it lacks (the fingerprint,
# the gate's machine matching, the regimes and the ceilings all read these overrides)
MACHINES := "Synthetic Xeon (AVX-512)|L1=48K,L2=2M,L3=480M" "Synthetic EPYC|L1=32K,L2=512K,L3=32M" "Synthetic no-L3|L1=64K,L2=4M"
test-machines: $(STAMP)  ## The quick tier under synthetic machines (JAXGRADS_CPU_MODEL, JAXGRADS_CACHES)
	@for m in $(MACHINES); do \
	  echo "== JAXGRADS_CPU_MODEL='$${m%%|*}' JAXGRADS_CACHES='$${m#*|}'"; \
	  JAXGRADS_CPU_MODEL="$${m%%|*}" JAXGRADS_CACHES="$${m#*|}" $(PY) -m pytest -q $(XDIST) -m "not slow" || exit 1; \
	done

RESULTS := results/latest.csv results/scaling.csv results/crossover.csv results/structure.csv
# make bench's device counts: 1, 2, 4, 8 host devices, but no more than the CPUs this process may use
# (two at least): host devices beyond the cores share them, and their times measure the sharing
# (`make devices`, the study, takes all four)
ifndef DEVICE_COUNTS
DEVICE_COUNTS := $(shell $(PYTHON) -c 'import os; n = max(2, len(os.sched_getaffinity(0))); print(*(d for d in (1, 2, 4, 8) if d <= n))' 2>/dev/null || echo 1 2)
endif
DEVICE_RESULTS := $(foreach d,$(DEVICE_COUNTS),results/devices/d$(d)-x.csv results/devices/d$(d)-A.csv)

bench: $(STAMP)  ## Default, scaling, fwd/rev crossover, structure and devices sweeps; results/latest.md, figures, site
	@# the four presets in one process, and the devices study's runs on its one device: JAX starts
	@# once, and the machine is probed once between two runs
	$(PY) bench/sweeps.py --devices-1
	$(PY) bench/studies/devices.py --counts $(DEVICE_COUNTS) --measured 1 --no-readme
	@# the report and the site draw their figures side by side (nothing is timed any more)
	$(PY) -m jaxgrads report $(RESULTS) $(DEVICE_RESULTS) --plots results/figures -o results/latest.md & \
	  report=$$!; $(MAKE) --no-print-directory site; site=$$?; wait $$report && exit $$site

# with a history (results/history/, from `make history` or `jaxgrads history add`), its kernel pages too
HISTORY := $(if $(wildcard results/history/runs/*.csv),--history results/history)
# with make releases' folder, its page too
RELEASES := $(if $(wildcard results/releases/steps.csv),--releases results/releases)

site: $(STAMP)  ## The static site of make bench's results (and the history, if any) -> results/site/index.html
	$(PY) -m jaxgrads site $(RESULTS) $(DEVICE_RESULTS) $(HISTORY) $(RELEASES) --overwrite -o results/site

RANGE ?= HEAD~5..HEAD
history: $(STAMP)  ## The gate sweep at each commit of RANGE (default HEAD~5..HEAD) into results/history/, then its regressions
	$(PY) -m jaxgrads history measure $(RANGE)
	$(PY) -m jaxgrads history regressions

test-browser:  ## The site's tests in headless Chromium (installs the [browser] extra; needs Debian's chromium)
	$(MAKE) EXTRAS=test,plot,browser $(VENV)/.installed-test-plot-browser
	$(PY) -m pytest -q tests/test_site.py

bench-quick: $(STAMP)  ## The quick sweep (under a minute)
	$(PY) -m jaxgrads run --quick --overwrite -o results/quick.csv --report results/quick.md

bench-pytest: $(STAMP)  ## The pytest-benchmark suite: results/pytest-benchmark.json, and as a results CSV
	$(PY) -m pytest bench/suite/test_benchmarks.py -q -p no:cacheprovider --benchmark-save-data \
	  --benchmark-json results/pytest-benchmark.json \
	  --benchmark-storage file://results/.benchmarks --benchmark-autosave
	$(PY) -m jaxgrads import-pytest-benchmark results/pytest-benchmark.json --overwrite \
	  -o results/pytest-benchmark.csv

gate: $(STAMP)  ## Regression gate: the gate sweep, timed and counted, against results/baselines/<this machine>.csv
	@mkdir -p results/gate
	$(PY) -m jaxgrads run --preset gate --instructions --overwrite -o results/gate/current.csv \
	  > results/gate/run.log
	$(PY) -m jaxgrads gate results/gate/current.csv --markdown results/gate/summary.md

baseline: $(STAMP)  ## Record this machine's gate baseline (3 pooled processes, counted once) in results/baselines/
	$(PY) -m jaxgrads baseline --overwrite --instructions

calibrate-gate: $(STAMP)  ## The gate's false alarms and detection (all three tiers) on this machine into docs/gate.md
	$(PY) bench/studies/calibrate_instructions.py
	$(PY) bench/studies/calibrate_gate.py

budgets: $(STAMP)  ## Measure the runner's time, repeatability and fidelity budgets into docs/methodology.md
	$(PY) bench/studies/budgets.py

floor: $(STAMP)  ## The ceilings, the floor invariant and the regimes of make bench's results into docs/methodology.md
	$(PY) bench/studies/floor.py $(RESULTS)

closed-forms: $(STAMP)  ## Every closed form's distance to its floor at 512 and 1024 (all CPUs and one) into docs/methodology.md
	$(PY) bench/studies/closed_forms.py

devices: $(STAMP)  ## Sharded Jacobians on 1, 2, 4, 8 devices (strong and weak scaling) into docs/devices.md
	$(PY) bench/studies/devices.py

sparse:  ## Dense vs colored vs the asdex peer vs closed forms into docs/structure.md (installs the [sparse] extra)
	$(MAKE) EXTRAS=test,sparse $(VENV)/.installed-test-sparse
	$(PY) bench/studies/structure.py
	$(PY) bench/studies/decompression.py

peers:  ## JAX against PyTorch and chunked memory figures into docs/peers.md (installs the [torch] extra)
	$(MAKE) EXTRAS=test,torch $(VENV)/.installed-test-torch
	$(PY) bench/studies/peers.py

advise-study:  ## How often jaxgrads.advise's prediction picks the fastest method, into docs/advice.md (installs [sparse])
	$(MAKE) EXTRAS=test,sparse $(VENV)/.installed-test-sparse
	$(PY) bench/studies/advise.py

compare-docs:  ## docs/compare.md: jaxgrads.compare on the example layers and models (installs [sparse,models])
	$(MAKE) EXTRAS=test,sparse,models $(VENV)/.installed-test-sparse-models
	$(PY) bench/studies/compare_example.py

releases: $(STAMP)  ## The notes' Jacobians under jax 0.4.30 ... 0.10.2 (counted and timed, gated step by step) into docs/releases.md
	$(PY) bench/studies/releases.py

clean:  ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
