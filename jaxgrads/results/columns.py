"""What each column of a results CSV means, grouped as the reference page shows them.

:data:`COLUMNS` covers every column of :data:`jaxgrads.results.schema.FIELDS` exactly once (checked
by :func:`columns_markdown` and the tests), so ``docs/columns.md``, which ``bench/studies/columns.py``
writes from it, cannot drift from the schema.
"""

from __future__ import annotations

from jaxgrads.results.schema import FIELDS, SCHEMA_VERSION

__all__ = ["COLUMNS", "columns_markdown"]

# (columns, meaning, unit), in the order of their first column in FIELDS
COLUMNS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ('run_id', 'started_at', 'git_commit'),
        'the run (12 hex digits; ISO 8601 UTC; checkout commit)',
        '',
    ),
    (
        ('host', 'cpu_model', 'cpu_count', 'backend', 'device_kind'),
        'the machine and device',
        '',
    ),
    (
        ('jax_version', 'jaxlib_version', 'x64', 'matmul_precision', 'compile_cache'),
        'software and settings',
        '',
    ),
    (
        ('problem', 'wrt', 'method', 'm', 'n', 'batch', 'dtype'),
        'the case (unused dimensions 0)',
        '',
    ),
    (
        ('jac_shape', 'jac_bytes'),
        "the Jacobian's shape (`1024x1024`) and size",
        'bytes',
    ),
    (
        ('status', 'message'),
        '`ok`, `skipped` or `error`, and why',
        '',
    ),
    (
        ('compile_s',),
        "trace + lower + compile of the kernel's programs (with `--jobs N`, in its worker, beside up to N − "
        '1 others)',
        'seconds',
    ),
    (
        ('time_median_s', 'time_iqr_s', 'time_min_s'),
        'per Jacobian, over samples',
        'seconds',
    ),
    (
        ('samples', 'inner_loops'),
        'samples kept; calls averaged in one sample',
        'count',
    ),
    (
        ('flops',),
        "XLA `cost_analysis`, summed over a loop kernel's calls (counted before optimisation)",
        'flop',
    ),
    (
        ('bytes_accessed',),
        'XLA `cost_analysis` (after optimisation)',
        'bytes',
    ),
    (
        ('temp_bytes', 'output_bytes', 'peak_bytes'),
        'XLA `memory_analysis` (largest executable of a loop kernel)',
        'bytes',
    ),
    (
        ('err_closed_form', 'err_f64'),
        '‖J − J_ref‖_F / ‖J_ref‖_F',
        'relative',
    ),
    (
        ('max_abs_err',),
        'max \\|J − J_f64\\|',
        'absolute',
    ),
    (
        ('ok',),
        'within tolerance and finite',
        'bool',
    ),
    (
        ('dispatch_floor_s',),
        'fastest sample of a compiled no-op on the device (the faster of two measurements, before and after '
        'the ceilings)',
        'seconds',
    ),
    (
        ('memory_budget_bytes',),
        'the budget cases were checked against',
        'bytes',
    ),
    (
        ('chunk_size',),
        'basis vectors per step of a chunked method (0: unchunked)',
        'count',
    ),
    (
        ('compile_kind', 'torch_threads'),
        "`xla` or `first_call` (the eager PyTorch peer); PyTorch's threads",
        '',
    ),
    (
        ('ceiling_bytes_per_s', 'ceiling_flops_per_s'),
        "the run's measured main-memory bandwidth (in place) and matmul rate, in the row's dtype",
        'bytes/s, flop/s',
    ),
    (
        ('achieved_flops_per_s', 'achieved_bytes_per_s'),
        'flops and bytes_accessed ÷ time_median_s',
        'flop/s, bytes/s',
    ),
    (
        ('roofline_frac',),
        'max(flops ÷ ceiling_flops, bytes ÷ ceiling_bytes) ÷ time_median_s: 1 is at the roof',
        'fraction',
    ),
    (
        ('wrt_elements', 'out_elements'),
        'basis sizes of forward (inputs) and reverse (outputs) mode',
        'count',
    ),
    (
        ('cpus_used',),
        "CPUs the process could run on (`--cpus`; the gate's sweep pins to 1)",
        'count',
    ),
    (
        ('instructions',),
        'instructions per Jacobian call under callgrind (`--instructions`; empty when not counted)',
        'count',
    ),
    (
        ('noop_instructions',),
        'instructions per call of a compiled no-op in the same callgrind process: the dispatch part',
        'count',
    ),
    (
        ('instr_calls',),
        'calls the count was taken over',
        'count',
    ),
    (
        ('valgrind_version', 'isa_class'),
        'the Valgrind that counted; the CPU the process saw under it (ISA level and CPUID brand)',
        '',
    ),
    (
        ('ceiling_l1_bytes_per_s', 'ceiling_l2_bytes_per_s', 'ceiling_l3_bytes_per_s'),
        'bandwidth of a working set that fits each cache level, in place',
        'bytes/s',
    ),
    (
        ('ceiling_first_touch_bytes_per_s',),
        'writing a fresh output on pages never touched (empty on a GPU, and in a run none of whose Jacobians'
        ' reaches 32 MiB)',
        'bytes/s',
    ),
    (
        ('cache_l1_bytes', 'cache_l2_bytes', 'cache_l3_bytes'),
        "the data caches the run used: the machine's, the last checked by bandwidth (empty where it reports "
        'none)',
        'bytes',
    ),
    (
        ('traffic_bytes', 'traffic_read_bytes'),
        'compulsory traffic: inputs the derivative depends on, read, plus the Jacobian, written; the read '
        'part',
        'bytes',
    ),
    (
        ('min_flops',),
        'the fewest flops of the derivative (declared with it; 0 where none are needed)',
        'flop',
    ),
    (
        ('floor_s', 'floor_frac', 'floor_level'),
        'the least time the derivative can take here; floor ÷ time (1 at the limit); the term that binds',
        'seconds, fraction,',
    ),
    (
        ('devices', 'mesh_shape'),
        "devices computing the Jacobian (a sharded method's mesh, else 1) and the mesh (`basis=4`; empty for"
        " one-device methods); a sharded row's XLA memory columns (`peak_bytes`, ...) are one device's",
        'count,',
    ),
    (
        ('processes',),
        'processes of the run (`jax.distributed`; 1 for one)',
        'count',
    ),
    (
        ('nnz',),
        "the Jacobian's structural nonzeros (the derivative's declared pattern; otherwise every entry)",
        'count',
    ),
    (
        ('colors', 'prep_s'),
        "a colored method's JVPs/VJPs per Jacobian, and its pattern + coloring time (before compiling)",
        'count, seconds',
    ),
    (
        ('output_format',),
        "`dense`, or `bcoo` (a `jax.experimental.sparse.BCOO` of the Jacobian's shape)",
        '',
    ),
    (
        ('schema_version',),
        'the column set the writer knew (files from before the column read as 1); a newer one is refused',
        '',
    ),
    (
        ('cache_source',),
        'where the cache sizes come from (`sysfs`, `py-cpuinfo`, `JAXGRADS_CACHES`) and what the bandwidth '
        'check said of the last level',
        '',
    ),
    (
        ('compile_jobs',),
        'kernels compiling at once when this one compiled (`--jobs`; 1: alone, just before it was timed)',
        'count',
    ),
    (
        ('wrt_leaves', 'out_leaves'),
        "the array leaves of the differentiated argument(s) and of the output: 1 for an array, more for "
        "a pytree (`jaxgrads.compare`), whose `m`, `n` are then the leaves' total elements",
        'count',
    ),
    (
        ('steps', 'basis'),
        "what the case decided (`measure/case.py`): the sequential steps of one Jacobian (1 for a "
        "vectorized method, the basis over the chunk size for a chunked walk) and the basis vectors "
        "the method walks or holds (output or input elements); the reports read them",
        'count',
    ),
    (
        ('memory_bytes',),
        "the case's estimated peak (inputs, the Jacobian, the basis it holds): what `--memory-budget` "
        "is checked against before compiling; XLA's measured peak is `peak_bytes`",
        'bytes',
    ),
)


def columns_markdown() -> str:
    """The reference table of every column, in the schema's order; raises if a column is missing
    from :data:`COLUMNS` or named twice, or if it names one the schema does not have."""
    named = [c for group, _, _ in COLUMNS for c in group]
    missing = [f for f in FIELDS if f not in named]
    extra = sorted({c for c in named if c not in FIELDS} | {c for c in named if named.count(c) > 1})
    if missing or extra:
        raise ValueError(f"COLUMNS and FIELDS disagree: missing {missing}, unknown or repeated {extra}")
    groups = sorted(COLUMNS, key=lambda g: FIELDS.index(g[0][0]))
    lines = [
        f"Schema version {SCHEMA_VERSION}: {len(FIELDS)} columns, in the order of "
        "`jaxgrads.results.schema.FIELDS` (written by `bench/studies/columns.py` from "
        "`jaxgrads/results/columns.py`).",
        "",
        "| column | meaning | unit |",
        "|---|---|---|",
    ]
    lines += [f"| {', '.join(group)} | {meaning} | {unit} |" for group, meaning, unit in groups]
    return "\n".join(lines)
