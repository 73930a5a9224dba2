"""Start-up of the ``tessera`` command line, as whole processes, against ``python -c pass``.

Each command runs many times, round-robin (so load drift hits all of them alike), and the
median wall time is reported with the ratio to ``python -c pass``. Target: ``tessera decode``
within 2.0x of ``python -c pass``.

    .venv/bin/python bench/bench_cli.py [--runs 60] [--json] [--check] [--importtime]

Bytecode: with ``PYTHONDONTWRITEBYTECODE`` set (as in some CI shells) every run would compile
Tessera's sources again, which no installed copy does; so all commands, the baseline too, run
with a private ``PYTHONPYCACHEPREFIX`` that the warm-up fills, and without that variable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tessera

TARGET = 2.0
HERE = Path(sys.executable).parent


def _script() -> list[str]:
    script = HERE / "tessera"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tessera"]


def _commands(folder: Path) -> dict[str, list[str]]:
    key = tessera.Key.generate("ES256")
    (folder / "ec-public.jwk").write_text(json.dumps(key.to_jwk()))
    claims = {"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": 4102444800}
    token = tessera.encode(claims, key)
    key_file = str(folder / "ec-public.jwk")
    cli = _script()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import tessera'": [sys.executable, "-c", "import tessera"],
        "tessera decode TOKEN": [*cli, "decode", token],
        "tessera verify TOKEN --key FILE": [
            *cli,
            "verify",
            token,
            "--key",
            key_file,
            "--aud",
            "api",
        ],
    }


def _env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def _time(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one whole process; CPU time is steadier on a busy box."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed: {proc.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _importtime(argv: list[str], env: dict[str, str], top: int = 12) -> list[tuple[int, str]]:
    """The modules with the largest self import time (microseconds) for one run."""
    script = argv[0]
    if Path(script).name == "tessera":
        argv = [sys.executable, "-X", "importtime", script, *argv[1:]]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            self_us, _, name = line[len("import time:") :].split("|")
            rows.append((int(self_us), name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    """Run the benchmark and print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=60, help="timed runs per command")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help=f"exit 1 above {TARGET}x")
    parser.add_argument("--importtime", action="store_true", help="show decode's slow imports")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        folder = Path(tmp)
        env = _env(folder / "pycache")
        commands = _commands(folder)
        for argv in commands.values():  # warm-up: fill the bytecode cache and the page cache
            for _ in range(3):
                _time(argv, env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                wall, cpu = _time(argv, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
        slow = _importtime(commands["tessera decode TOKEN"], env) if args.importtime else []

    base = statistics.median(walls["python -c pass"])
    base_cpu = statistics.median(cpus["python -c pass"])
    results = {
        name: {
            "median_ms": round(statistics.median(times) * 1000, 2),
            "min_ms": round(min(times) * 1000, 2),
            "ratio": round(statistics.median(times) / base, 2),
            "cpu_ms": round(statistics.median(cpus[name]) * 1000, 2),
            "cpu_ratio": round(statistics.median(cpus[name]) / base_cpu, 2),
        }
        for name, times in walls.items()
    }
    decode_ratio = results["tessera decode TOKEN"]["ratio"]
    if args.json:
        print(json.dumps({"runs": args.runs, "target": TARGET, "results": results}, indent=2))
    else:
        load = os.getloadavg()[0]
        print(
            f"tessera {tessera.__version__}, Python {platform.python_version()}, "
            f"{platform.machine()}, {os.cpu_count()} CPUs, load {load:.1f}, "
            f"{args.runs} runs each (medians)"
        )
        header = f"{'command':<34} {'wall ms':>8} {'min ms':>7} {'x pass':>7}"
        print(f"{header} {'cpu ms':>7} {'x pass':>7}")
        for name, row in results.items():
            print(
                f"{name:<34} {row['median_ms']:>8.1f} {row['min_ms']:>7.1f} {row['ratio']:>7.2f}"
                f" {row['cpu_ms']:>7.1f} {row['cpu_ratio']:>7.2f}"
            )
        verdict = "meets" if decode_ratio <= TARGET else "MISSES"
        print(
            f"\ntessera decode start-up: {decode_ratio:.2f}x python -c pass "
            f"({verdict} the {TARGET}x target)"
        )
        if slow:
            print("\nlargest self import times in 'tessera decode' (us):")
            for micros, name in slow:
                print(f"  {micros:>7}  {name}")
    return 1 if args.check and decode_ratio > TARGET else 0


if __name__ == "__main__":
    raise SystemExit(main())
