#!/usr/bin/env python3
"""bench/progress.py: passes bench_as_tensor's console output through, prefixing the first line
of each case with `[i/N]` and an estimate of the time left.

    bench_as_tensor --benchmark_list_tests ... > cases.txt
    stdbuf -oL bench_as_tensor ... | python bench/progress.py cases.txt

The estimate weighs each case by its size (1 + bytes / 16 MiB: large cases spend longer in
set-up and in each iteration) and scales the time so far by the weight still to run; it is an
estimate, good to tell minutes from hours.
"""

from __future__ import annotations

import re
import sys
import time

_SIZE = re.compile(r"/(?:bytes|n):(\d+)(KiB|MiB|GiB)?(?=/|$)")
_AGG = re.compile(r"_(mean|median|stddev|cv)$")


def case_weight(name: str) -> float:
    m = _SIZE.search(name)
    if not m:
        return 1.0
    b = int(m.group(1)) * {None: 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[m.group(2)]
    return 1.0 + b / float(16 << 20)


def fmt_left(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class Progress:
    """Tracks the cases seen in the console output against the listed ones."""

    def __init__(self, names, clock=time.monotonic):
        self.names = list(dict.fromkeys(names))
        self.weights = {n: case_weight(n) for n in self.names}
        self.total = sum(self.weights.values()) or 1.0
        self.seen: set[str] = set()
        self.done_weight = 0.0
        self.clock = clock
        self.t0 = clock()

    def prefix(self, line: str) -> str:
        """'[i/N ~T left] ' for the first line of a new case, else ''."""
        first = line.split(" ", 1)[0]
        name = _AGG.sub("", first)
        if name not in self.weights or name in self.seen:
            return ""
        # The line reports a finished case: count it, then estimate from the rate so far.
        self.seen.add(name)
        self.done_weight += self.weights[name]
        elapsed = self.clock() - self.t0
        left = elapsed * (self.total - self.done_weight) / self.done_weight
        return f"[{len(self.seen)}/{len(self.names)} ~{fmt_left(left)} left] "


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: bench/progress.py CASES_FILE < console output", file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        progress = Progress(line.strip() for line in f if line.strip())
    for line in sys.stdin:
        sys.stdout.write(progress.prefix(line) + line)
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
