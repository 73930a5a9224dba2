"""Import cost: ``import tessera`` against a bare interpreter and the peers' JWT modules.

Every sample is a fresh interpreter (``python -c ...``) timed from outside, so it counts
start-up, module search and byte-code loading (with warm .pyc files); cases run round-robin
and each row is the median of the runs, in CPU time (user + sys of the child).
``-X importtime`` then lists what ``import tessera`` pulls in.

    .venv/bin/python bench/bench_import.py [--runs 30] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_MS = 30.0
CASES = {
    "bare interpreter": "pass",
    "import tessera": "import tessera",
    "import tessera + first use": "import tessera; tessera.Key.from_secret(b'k' * 32)",
    "import jwt (PyJWT)": "import jwt",
    "import joserfc.jwt": "import joserfc.jwt",
    "import jwcrypto.jwt": "import jwcrypto.jwt",
    "import jose.jwt (python-jose)": "import jose.jwt",
    "import authlib.jose": "import authlib.jose",
}


def _env() -> dict[str, str]:
    # Byte-code caching on, in a private prefix: every library is timed with warm .pyc files,
    # as after a normal install, whatever PYTHONDONTWRITEBYTECODE says and without touching src/.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "tessera-bench-pycache")
    return env


def _run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(CPU ms, wall ms) of one fresh interpreter running ``code``."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"{code!r} failed")
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


def available(code: str) -> bool:
    """True if ``code`` runs (the peer is installed)."""
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code], capture_output=True)
    return done.returncode == 0


def measure(runs: int) -> dict[str, tuple[list[float], list[float]]]:
    """Round-robin (CPU ms, wall ms) samples of each case, after two warm-up runs."""
    env = _env()
    cases = {name: code for name, code in CASES.items() if available(code)}
    samples: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in cases}
    for code in cases.values():
        _run(code, env)
        _run(code, env)
    for _ in range(runs):
        for name, code in cases.items():
            cpu, wall = _run(code, env)
            samples[name][0].append(cpu)
            samples[name][1].append(wall)
    return samples


def importtime(code: str = "import tessera") -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, module) for each module ``code`` imports beyond start-up."""

    def parse(stmt: str) -> dict[str, tuple[int, int]]:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", stmt],
            env=_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        rows = {}
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative, name = line[len("import time:") :].split("|")
            rows[name.strip()] = (int(self_us), int(cumulative))
        return rows

    baseline = parse("pass")
    best: dict[str, tuple[int, int]] = {}
    for _ in range(5):  # the fastest of a few runs per module: less scheduler noise
        for name, (self_us, cumulative) in parse(code).items():
            if name in baseline:
                continue
            old = best.get(name)
            if old is None or self_us < old[0]:
                best[name] = (self_us, cumulative)
    return sorted(((s, c, n) for n, (s, c) in best.items()), reverse=True)


def main(argv: list[str] | None = None) -> int:
    """Print the import table, the target line and the top modules."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, help="fresh interpreters per case (default 30)")
    parser.add_argument("--quick", action="store_true", help="10 runs per case")
    args = parser.parse_args(argv)
    runs = args.runs or (10 if args.quick else 30)

    samples = measure(runs)
    bare_cpu = statistics.median(samples["bare interpreter"][0])
    bare_wall = statistics.median(samples["bare interpreter"][1])
    print(f"Import time: fresh interpreters, median of {runs} runs each ({sys.executable})")
    print("CPU = user+sys of the child (immune to other jobs); wall = elapsed, for reference")
    print(f"{'case':<32}{'CPU ms':>8}{'over bare':>11}{'wall ms':>9}{'over bare':>11}")
    for name, (cpu, wall) in samples.items():
        c, w = statistics.median(cpu), statistics.median(wall)
        print(f"{name:<32}{c:>8.1f}{c - bare_cpu:>+11.1f}{w:>9.1f}{w - bare_wall:>+11.1f}")
    cost = statistics.median(samples["import tessera"][0]) - bare_cpu
    verdict = "met" if cost <= TARGET_MS else "NOT met"
    print(
        f"import tessera costs {cost:.1f} ms over a bare interpreter "
        f"(target <= {TARGET_MS:g}) {verdict}"
    )

    rows = importtime()
    total = sum(s for s, _, _ in rows)
    print(
        f"\n-X importtime: modules `import tessera` adds ({len(rows)}, {total / 1000:.1f} ms self)"
    )
    print(f"{'self ms':>8}{'cumul ms':>10}  module")
    for self_us, cumulative, name in rows[:10]:
        print(f"{self_us / 1000:>8.2f}{cumulative / 1000:>10.2f}  {name}")
    heavy = [n for _, _, n in rows if n.split(".")[0] in ("cryptography", "re", "dataclasses")]
    if heavy:
        print(f"note: pulls in {', '.join(sorted({n.split('.')[0] for n in heavy}))} at import")
    return 0


if __name__ == "__main__":
    sys.exit(main())
