"""Turn a pytest-benchmark JSON into ``benchmarks/RESULTS.md``.

diffkern bench --json bench.json
python benchmarks/make_results.py bench.json            # writes benchmarks/RESULTS.md
python benchmarks/make_results.py bench.json -o out.md
python benchmarks/make_results.py bench.json rerun.json # rerun.json's cases replace bench.json's
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from diffkern.cli.bench import MIN_QUOTED_ROUNDS, STABLE_SPREAD, Time, format_table, legend, rows

_METHOD = f"""\
Each time is the median over rounds of one case. Every case calls its function once first
(compilation excluded from run time), blocks on the result (`jax.block_until_ready`) inside each
timed round, and checks diffkern's answer against the peer's before timing. Rounds repeat until
their spread (IQR / median) is at most {STABLE_SPREAD:.0%} or the case's budget is spent (full
mode: 7 to 2000 rounds, about 10 s; `--quick`: 5 to 200 rounds, about 0.6 s). A time with a
larger spread, or fewer than {MIN_QUOTED_ROUNDS} rounds, is unstable: its row shows `unstable`
instead of a speedup and is not quoted. `compile ...` cases time a cold call (trace + compile +
run) from cleared JAX caches instead (full mode: 5 to 15 rounds; `--quick`: one round, never
quoted). Speedup = best peer median / diffkern median (above 1: diffkern is faster). The machine
may be shared and noisy: compare ratios from one run, not absolute times across machines."""


def _environment(data: dict) -> dict[str, str]:
    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {})
    infos = [b["extra_info"] for b in data.get("benchmarks", [])]
    first = infos[0] if infos else {}
    versions = sorted({(i.get("library", "?").split(":")[0], i.get("version", "?")) for i in infos})
    modes = sorted({i.get("mode", "full") for i in infos})
    commit = data.get("commit_info", {})
    dirty = " (with local changes)" if commit.get("dirty") else ""
    return {
        "commit": f"{commit.get('id', '?')[:12]}{dirty}",
        "date": data.get("datetime", "?"),
        "cpu": f"{cpu.get('brand_raw', machine.get('machine'))}, {cpu.get('count', '?')} cores",
        "python": machine.get("python_version", "?"),
        "jax": first.get("jax", "?"),
        "device": f"{first.get('device', '?')} ({first.get('backend', '?')})",
        "libraries": ", ".join(f"{name} {version}" for name, version in versions),
        "mode": ", ".join(modes),
    }


def merge(documents: list[dict]) -> dict:
    """The first pytest-benchmark document with each later one's cases (a group and library)
    replacing those of the first (a file re-run alone, for instance on a quieter machine) or
    added to its end; ``reruns`` records the date and groups of each later document."""

    def case(b: dict) -> tuple[str, str]:
        return b["group"], b["extra_info"]["library"]

    data = dict(documents[0])
    cases = {case(b): b for b in data.get("benchmarks", [])}
    reruns = []
    for later in documents[1:]:
        cases.update({case(b): b for b in later.get("benchmarks", [])})
        groups = dict.fromkeys(b["group"] for b in later.get("benchmarks", []))
        reruns.append(f"{later.get('datetime', '?')}: {'; '.join(groups)}")
    data["benchmarks"] = list(cases.values())
    data["reruns"] = reruns
    return data


def _peer_table(data: dict) -> str:
    """diffkern's main variant against every peer and baseline of each case, not only the best;
    only stable pairs get a speedup."""
    groups: dict[str, list[tuple[str, Time]]] = {}
    for b in data.get("benchmarks", []):
        groups.setdefault(b["group"], []).append((b["extra_info"]["library"], Time.of(b)))
    lines = []
    for group, entries in groups.items():
        ours = dict(entries).get("diffkern")
        for library, peer in sorted(entries, key=lambda e: e[1].median):
            if ours is not None and not library.startswith("diffkern"):
                stable = ours.stable and peer.stable
                ratio = f"{peer.median / ours.median:.2f}x" if stable else "unstable"
                lines.append(f"| {group} | {library} | {ratio} |")
    if not lines:
        return ""
    return (
        "\n\nAgainst every peer and baseline (peer median / diffkern median; `jax:...` and "
        "`scipy` rows are baselines, not peers):\n\n| case | peer | speedup |\n"
        "| --- | --- | ---: |\n" + "\n".join(lines)
    )


def _bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def _memory_table(data: dict) -> str:
    """Compiled memory (XLA's memory analysis) of the cases that record it, else nothing."""
    lines = []
    for b in data.get("benchmarks", []):
        info = b["extra_info"]
        if "temp_bytes" in info:
            variant = info.get("library", "diffkern").partition(":")[2]
            case = f"{b['group']} [{variant}]" if variant else b["group"]
            lines.append(
                f"| {case} | {_bytes(info['temp_bytes'])} | {_bytes(info['total_bytes'])} |"
            )
    if not lines:
        return ""
    return (
        "\n\nCompiled memory (temporaries hold reverse mode's residuals; the total adds "
        "arguments and outputs):\n\n| case | temporaries | total |\n| --- | ---: | ---: |\n"
        + "\n".join(lines)
    )


def _reruns(data: dict) -> str:
    return "".join(f"\n- re-run alone, replacing its cases: {r}" for r in data.get("reruns", []))


def render(data: dict) -> str:
    """The Markdown text of RESULTS.md for a pytest-benchmark JSON document."""
    env = _environment(data)
    quick = " --quick" if env["mode"] == "quick" else ""
    return f"""# diffkern benchmark results

Latest run of the suite in `benchmarks/` on this machine, diffkern side by side with its peers.

- date: {env["date"]}
- commit: {env["commit"]}
- CPU: {env["cpu"]}
- device: {env["device"]}
- python {env["python"]}, jax {env["jax"]}
- libraries: {env["libraries"]}
- mode: {env["mode"]}{_reruns(data)}

Reproduce:

```
pip install -e ".[bench]"
diffkern bench{quick} --json bench.json
python benchmarks/make_results.py bench.json
```

{_METHOD}

{format_table(rows(data), markdown=True)}

{legend()}.{_peer_table(data)}{_memory_table(data)}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "json",
        nargs="+",
        help="pytest-benchmark JSON (from diffkern bench --json); later files' cases replace "
        "the first's",
    )
    parser.add_argument("-o", "--output", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args(argv)
    documents = []
    for path in args.json:
        with open(path) as f:
            documents.append(json.load(f))
    text = render(merge(documents))
    Path(args.output).write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
