"""Benchmark: the core (normalize + decide) compiled with mypyc, next to the same core in pure
Python, on the mix of ``bench/domain.py``.

    python bench/mypyc_core.py [--envelopes N] [--repeat R] [--opt-level {0,1,2,3}]
                               [--keep DIR] [--modules MODULE ...]

It copies ``helios.domain`` into a scratch directory, prepares the copy for mypyc (below),
compiles the modules on the core's hot path there (the sources under ``src/`` are never
touched, and nothing compiled is ever put next to them), then times ``normalize only``,
``decide only`` and the core in CPU time, pure and compiled alternately in fresh processes,
and prints the medians, the compiled/pure ratio of each, and whether both made the same
decisions (a digest of every event decided, encoded as the store encodes them).

Compiling a module as it is would change what it does: mypyc builds a class that is not a
native class (every msgspec struct and attrs class of the domain) without the keywords of its
``class`` statement, so a ``msgspec.Struct`` loses ``frozen``, ``kw_only``, ``gc``, ``eq`` and
``forbid_unknown_fields``; it writes approximate ``__annotations__`` (``type`` for
``X | None``, ``tuple`` for ``tuple[str, ...]``), which msgspec and attrs read to decode; and
it checks a class attribute's value against its annotation, which ``attrs.field()`` and
``msgspec.field()`` defaults fail. The copy is rewritten so that each struct's metaclass is
handed its keywords and its exact annotations, each attrs class gets its exact annotations
before attrs reads them, and the field specifiers are called untyped. The prepared copy is
for measuring only: two differences remain (a generic struct, ``Run``, is no longer
subscriptable, so a spilled state does not decode back; ``AlertState.__eq__``, annotated
``-> bool``, may not return ``NotImplemented``), neither on the benchmark's path.
See docs/operations.md for what it measured and why it does not pay.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"

HOT_MODULES = (
    "helios/domain/alert.py",
    "helios/domain/engine.py",
    "helios/domain/fold.py",
    "helios/domain/identity.py",
    "helios/domain/incident.py",
    "helios/domain/ruleset.py",
    "helios/domain/run.py",
    "helios/domain/scoring.py",
    "helios/domain/timestamps.py",
    "helios/domain/normalize/__init__.py",
    "helios/domain/normalize/alertmanager.py",
    "helios/domain/normalize/cloudwatch.py",
    "helios/domain/normalize/common.py",
    "helios/domain/normalize/dispatch.py",
    "helios/domain/normalize/generic.py",
    "helios/domain/normalize/grafana.py",
    "helios/domain/normalize/pagerduty.py",
    "helios/domain/normalize/pagerduty_change.py",
    "helios/domain/normalize/user.py",
)
"""What a profile of the mix finds the core spends its time in. ``values.py`` is left out:
mypyc compiles an ``enum.Enum``'s ``__init__`` to check ``self`` against the class that the
members are being made for, before it exists (an import-time ``TypeError``)."""

SUPPORT_MODULE = "stagedsupport"
"""The prepared copy's helper module, left uncompiled. No leading underscore, and imported
``from helios.domain.stagedsupport import ...``: mypyc 2.4 emits C that does not compile for a
module imported as ``from helios.domain import _name`` and used only in class headers."""

SUPPORT = '''"""What the prepared copy of the domain needs around mypyc (not compiled)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import msgspec

T = TypeVar("T")

ATTRS_FIELD: Any = attrs.field
MSGSPEC_FIELD: Any = msgspec.field


class StagedStructMeta(msgspec.StructMeta):
    """Hands a struct the keywords and annotations of its ``class`` statement, which mypyc
    does not pass on (they come in the class body, as ``__staged__``)."""

    def __new__(
        mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any
    ) -> Any:
        staged = ns.pop("__staged__", None)
        if staged is not None:
            options, annotations = staged
            kw = {**options, **kw}
            ns["__annotations__"] = dict(annotations)
        return super().__new__(mcls, name, bases, ns, **kw)


def staged_annotations(annotations: dict[str, str]) -> Callable[[T], T]:
    """Gives a class its exact annotations back before attrs reads them."""

    def restore(cls: T) -> T:
        cls.__annotations__ = dict(annotations)
        return cls

    return restore
'''

IMPORT = (
    f"from helios.domain.{SUPPORT_MODULE} import (\n"
    "    ATTRS_FIELD, MSGSPEC_FIELD, StagedStructMeta, staged_annotations,\n)\n"
)


def prepare(source: str, structs: set[str]) -> str:
    """``source`` rewritten so that mypyc's build of it behaves as the module does.

    ``structs`` holds the names of the msgspec structs seen so far (a struct may subclass one
    defined earlier without keywords of its own); those of this module are added to it."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    inserts: list[tuple[int, int, str]] = []  # (line index, column, text)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            inserts.extend(_class_inserts(node, structs))
    for line, column, text in sorted(inserts, reverse=True):
        lines[line] = lines[line][:column] + text + lines[line][column:]
    prepared = "".join(lines)
    prepared = prepared.replace("attrs.field(", "ATTRS_FIELD(")
    prepared = prepared.replace("msgspec.field(", "MSGSPEC_FIELD(")
    future = "from __future__ import annotations\n"
    if future not in prepared:
        raise ValueError("every prepared module starts with `from __future__ import annotations`")
    return prepared.replace(future, future + IMPORT, 1)


def _class_inserts(node: ast.ClassDef, structs: set[str]) -> list[tuple[int, int, str]]:
    # Under ``from __future__ import annotations`` a class's annotations are these strings.
    annotations = {
        item.target.id: ast.unparse(item.annotation)
        for item in node.body
        if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
    }
    keywords = [keyword for keyword in node.keywords if keyword.arg != "metaclass"]
    bases = [ast.unparse(base).split("[")[0] for base in node.bases]
    if keywords or "msgspec.Struct" in bases or structs.intersection(bases):
        structs.add(node.name)
        options = {keyword.arg: ast.literal_eval(keyword.value) for keyword in keywords}
        last = (node.keywords or node.bases)[-1]
        assert last.end_lineno is not None and last.end_col_offset is not None
        first = node.body[0]
        docstring = (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        )
        assert first.end_lineno is not None
        decorated = getattr(first, "decorator_list", None) or [first]
        at = first.end_lineno if docstring else decorated[0].lineno - 1
        staged = f"{' ' * first.col_offset}__staged__ = ({options!r}, {annotations!r})\n"
        return [
            (last.end_lineno - 1, last.end_col_offset, ", metaclass=StagedStructMeta"),
            (at, 0, staged),
        ]
    if annotations and any(
        ast.unparse(decorator).startswith(("attrs.", "attr.")) for decorator in node.decorator_list
    ):
        return [(node.lineno - 1, 0, f"@staged_annotations({annotations!r})\n")]
    return []


def stage(scratch: Path, modules: list[str]) -> Path:
    """A prepared copy of ``helios.domain`` in ``scratch/stage``."""
    staged = scratch / "stage"
    shutil.rmtree(staged, ignore_errors=True)
    (staged / "helios").mkdir(parents=True)
    shutil.copytree(
        SRC / "helios" / "domain",
        staged / "helios" / "domain",
        ignore=shutil.ignore_patterns("__pycache__", "*.so"),
    )
    # Not the package's own __init__: it would make mypy follow the whole application.
    (staged / "helios" / "__init__.py").write_text("")
    (staged / "helios" / "domain" / f"{SUPPORT_MODULE}.py").write_text(SUPPORT)
    structs: set[str] = set()
    for module in modules:
        path = staged / module
        path.write_text(prepare(path.read_text(), structs))
    return staged


BUILD = """
import sys
from setuptools import setup
from mypyc.build import mypycify
modules, opt_level = sys.argv[1:-1], sys.argv[-1]
sys.argv = ["setup.py", "build_ext", "--inplace"]
setup(name="helios-core-bench", ext_modules=mypycify([*modules, "--strict"], opt_level=opt_level))
"""


def build(staged: Path, modules: list[str], opt_level: str) -> float:
    """Compiles ``modules`` of the prepared copy in place; returns the seconds it took."""
    started = time.perf_counter()
    env = {**os.environ, "MYPYPATH": str(REPO / "typings")}
    done = subprocess.run(
        [sys.executable, "-c", BUILD, *modules, opt_level],
        cwd=staged,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"mypyc build failed (exit {done.returncode})")
    return time.perf_counter() - started


def assemble(scratch: Path, staged: Path) -> Path:
    """A copy of ``src`` with the compiled modules (and their shared library) in place."""
    tree = scratch / "compiled"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(SRC, tree, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    for built in staged.rglob("*.so"):
        target = tree / built.relative_to(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, target)
    shutil.copy2(
        staged / "helios" / "domain" / f"{SUPPORT_MODULE}.py",
        tree / "helios" / "domain" / f"{SUPPORT_MODULE}.py",
    )
    return tree


MEASURE = """
import hashlib, json, sys, time
sys.path.insert(0, sys.argv[1])
import msgspec, orjson
import domain as bench
from helios.apps.embedded.traffic import TrafficGenerator
from helios.domain import engine, incident
from helios.domain.normalize import Normalized, normalize
from helios.domain.ruleset import Ruleset
import helios.domain.alert as alert_module

envelopes = list(TrafficGenerator(tenant="bench", start=1_760_000_000_000, problems=200)
                 .envelopes(int(sys.argv[2])))
ruleset, clock = Ruleset(), time.process_time
digest = hashlib.sha256()
context = engine.TenantContext(ruleset=ruleset)
working = engine.Working(alerts={}, groups={})
for index, envelope in enumerate(envelopes, 1):
    result = normalize(envelope, ruleset, decode=orjson.loads)
    if not isinstance(result, Normalized):
        digest.update(repr(result).encode())
        continue
    for signal in result.signals:
        missing = engine.apply_signal(working, signal, context)
        if missing is not None:
            for group in missing.groups:
                working.groups[group] = incident.initial_state(*group)
            engine.apply_signal(working, signal, context)
    if index % 100 == 0 or index == len(envelopes):
        for stream, events in working.events.items():
            digest.update(stream.bytes + msgspec.msgpack.encode(events))
        working.clear_events()
signals = bench.core(envelopes, ruleset, clock)[1]
print(json.dumps({
    "compiled": alert_module.__file__.endswith(".so"),
    "digest": digest.hexdigest(),
    "decode": bench.decode_only(envelopes, clock) / signals * 1e6,
    "normalize": bench.normalize_only(envelopes, ruleset, clock) / signals * 1e6,
    "decide": bench.decide_only(envelopes, ruleset, clock)[0] / signals * 1e6,
    "core": bench.core(envelopes, ruleset, clock)[0] / signals * 1e6,
}))
"""


def measure(path: Path, envelopes: int) -> dict[str, float | str | bool]:
    """One fresh process's µs per signal of each measure (``path`` first on its path)."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(REPO / "bench"), str(envelopes)],
        env={**os.environ, "PYTHONPATH": str(path)},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise SystemExit(f"measuring with {path} first on the path failed")
    found: dict[str, float | str | bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--envelopes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, alternately")
    parser.add_argument("--opt-level", choices=["0", "1", "2", "3"], default="3")
    parser.add_argument("--keep", type=Path, help="build here and keep it (default: a temp dir)")
    parser.add_argument("--modules", nargs="+", default=list(HOT_MODULES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="helios-mypyc-") as temporary:
        scratch = args.keep or Path(temporary)
        scratch.mkdir(parents=True, exist_ok=True)
        staged = stage(scratch, args.modules)
        print(
            f"compiling {len(args.modules)} modules with mypyc (-O{args.opt_level})...", flush=True
        )
        seconds = build(staged, args.modules, args.opt_level)
        print(f"built in {seconds:.0f} s (wall; load average {os.getloadavg()[0]:.1f})")
        compiled = assemble(scratch, staged)
        runs: dict[str, list[dict[str, float | str | bool]]] = {"pure": [], "compiled": []}
        for _ in range(args.repeat):
            runs["pure"].append(measure(SRC, args.envelopes))
            runs["compiled"].append(measure(compiled, args.envelopes))
        report(runs, args.repeat)
    return 0


def report(runs: dict[str, list[dict[str, float | str | bool]]], repeat: int) -> None:
    if runs["pure"][0]["compiled"] or not runs["compiled"][0]["compiled"]:
        raise SystemExit("the compiled modules were not the ones imported")
    print(f"{'µs per signal (CPU time)':<28}{'pure':>10}{'compiled':>10}{'compiled/pure':>15}")
    for name in ("decode", "normalize", "decide", "core"):
        pure = statistics.median(float(run[name]) for run in runs["pure"])
        built = statistics.median(float(run[name]) for run in runs["compiled"])
        print(f"{name:<28}{pure:>10.2f}{built:>10.2f}{built / pure:>15.2f}")
    for kind in ("pure", "compiled"):
        ratio = statistics.median(float(r["decode"]) / float(r["core"]) for r in runs[kind])
        print(f"ratio core/baseline, {kind}: {ratio:.3f}  (target >= 0.2)")
    digests = {str(run["digest"]) for kind in runs.values() for run in kind}
    print(
        f"same decisions, byte for byte: {'yes' if len(digests) == 1 else 'NO'}"
        f"  (median of {repeat} runs each, alternately; load average {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
