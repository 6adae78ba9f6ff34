"""Summarise .prof files from bench/overhead.py --cprofile: where the thread's CPU time went.

    python bench/_cprofile_top.py /tmp/cprof/seq-gateway.prof [--top 20] [--filter flowserve/]

Shares are of the profiled thread's CPU time (the profile's total). ``own`` is the function's
own time (tottime); ``incl`` includes what it calls (cumtime; recursion and coroutine resumes
make some cumulative figures approximate). Rows are functions whose file contains --filter,
then the top functions of any file by own time (C functions such as SerializeToString appear
as ``~:<built-in ...>``).
"""

from __future__ import annotations

import argparse
import pstats
from pathlib import Path


def name(func: tuple[str, int, str]) -> str:
    file, _line, fn = func
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{file}:{fn}" if file != "~" else fn


def summarise(path: Path, top: int, needle: str, calls_per: int | None) -> None:
    stats = pstats.Stats(str(path))
    total = stats.total_tt or 1e-9  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]
    per = f", per request: {total / calls_per * 1e6:.0f} µs" if calls_per else ""
    print(f"== {path.name}: {total:.3f} s thread CPU{per}")
    mine = [(f, v) for f, v in rows.items() if needle in f[0]]
    print(f"-- functions in *{needle}* by inclusive time:  incl%  own%  calls")
    for func, (_cc, nc, tt, ct, _) in sorted(mine, key=lambda kv: -kv[1][3])[:top]:
        print(f"  {100 * ct / total:5.1f} {100 * tt / total:5.1f} {nc:8d}  {name(func)}")
    print("-- any function by own time:  own%  incl%  calls")
    for func, (_cc, nc, tt, ct, _) in sorted(rows.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"  {100 * tt / total:5.1f} {100 * ct / total:5.1f} {nc:8d}  {name(func)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--filter", default="flowserve/")
    p.add_argument("--requests", type=int, help="divide the total by this many requests")
    args = p.parse_args()
    for path in args.files:
        summarise(path, args.top, args.filter, args.requests)
        print()


if __name__ == "__main__":
    main()
