"""The client core's import cost and the cost of building a ``Time``, at a base revision against the tree.

Run by hand (``uv run python bench/models.py [--base REV] [--rounds N]``, default base ``7f15b87``: the
models, report rows and ``Changes`` made by ``@dataclasses.dataclass(frozen=True)``). Prints medians:

* importing ``pymesync.models``, ``pymesync.reports`` and ``pymesync._operations`` after
  ``pymesync.cli._main`` (what every ``timesync`` command but ``--help`` adds), CPU time in fresh processes;
* building a ``Time`` by keyword and positionally, ``Time.from_dict`` of a server's entry, and
  ``dataclasses.replace`` (the local copy builds tens of thousands for ``ls`` and ``export``).

The base revision's ``src`` is exported with ``git archive`` into a temporary directory and put first on
``PYTHONPATH``; both sides are byte-compiled first (as ``pip install`` does) and run alternately.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = r"""
import time
import pymesync.cli._main
started = time.process_time()
import pymesync.models, pymesync.reports, pymesync._operations
print("import core", (time.process_time() - started) * 1e3)
"""
INSTANCES = r"""
import dataclasses, datetime, timeit
from pymesync.models import Time
fields = dict(uuid="0b2a4a8e-0000-4000-8000-000000000000", revision=1, duration=3600, user="alice",
              project=("gwm",), activities=("dev",), date_worked=datetime.date(2025, 3, 4), notes="n",
              issue_uri=None, created_at=datetime.date(2025, 3, 4), updated_at=None)
values = tuple(fields.values())
wire = {**fields, "project": ["gwm"], "activities": ["dev"], "date_worked": "2025-03-04",
        "created_at": "2025-03-04", "deleted_at": None}
time = Time(**fields)
cases = {"Time(**fields)": lambda: Time(**fields), "Time(*values)": lambda: Time(*values),
         "Time.from_dict": lambda: Time.from_dict(wire),
         "replace": lambda: dataclasses.replace(time, duration=5)}
for name, case in cases.items():
    print(name, min(timeit.repeat(case, number=20000, repeat=5)) / 20000 * 1e6)
"""


def _run(code: str, source: Path) -> dict[str, float]:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(source)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return {name: float(value) for name, value in (line.rsplit(" ", 1) for line in out.stdout.splitlines())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="7f15b87")
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "archive", args.base, "src"], cwd=ROOT, capture_output=True)
        archive.check_returncode()
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        sides = {args.base: Path(tmp) / "src", "tree": ROOT / "src"}
        for source in sides.values():
            compileall.compile_dir(source / "pymesync", quiet=1)
        found: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.rounds):
            for side, source in sides.items():
                codes = [IMPORTS, INSTANCES] if round_ < max(3, args.rounds // 3) else [IMPORTS]
                for code in codes:
                    for name, value in _run(code, source).items():
                        found.setdefault((name, side), []).append(value)
    base, tree = sides
    print(f"{'':16s} {base:>10s} {tree:>10s}  tree/base")
    for name in dict.fromkeys(name for name, _ in found):
        unit = "ms" if name == "import core" else "us"
        old, new = (statistics.median(found[(name, side)]) for side in (base, tree))
        print(f"{name:16s} {old:7.2f} {unit} {new:7.2f} {unit}  {new / old:5.2f}")


if __name__ == "__main__":
    main()
