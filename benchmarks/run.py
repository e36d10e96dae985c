"""Run every ``bench_*.py`` in this folder, one after the other, and print their output.

Each benchmark runs in its own Python process (the interpreter running this
script), from the repository root, so that one benchmark's memory and
warm caches do not affect the next. The exit status is 1 if any benchmark
failed, else 0.

Run from the repository root: ``python benchmarks/run.py``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the benchmarks in name order; return the exit status."""
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        start = time.perf_counter()
        status = subprocess.run([sys.executable, str(script)], cwd=HERE.parent).returncode
        print(f"({script.name}: {time.perf_counter() - start:.1f} s wall, exit status {status})\n", flush=True)
        if status:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
