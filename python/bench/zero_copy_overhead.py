"""Side-by-side cost of the zero-copy call: astensor.as_tensor(ndarray) against
torch.as_tensor, torch.from_numpy and np.asarray (issue 3, research/ecosystem.md §4).
A benchmark, not a test: it prints a Markdown table of ns per call (best of several runs).

    PYTHONPATH=build/default/python python python/bench/zero_copy_overhead.py
"""

import platform
import sys
import timeit

import numpy as np

import astensor

try:
    import torch
except ImportError:
    torch = None

N = 200_000
REPEAT = 7


def ns_per_call(stmt, env):
    t = timeit.Timer(stmt, globals=env)
    return min(t.repeat(repeat=REPEAT, number=N)) / N * 1e9


def main():
    a = np.ones((4, 4), np.float32)
    lst = [float(i) for i in range(1000)]
    env = {"a": a, "astensor": astensor, "np": np, "torch": torch, "lst": lst,
           "t": astensor.as_tensor(a), "ref": astensor.reference.as_tensor}
    rows = [
        ("np.asarray(a)", "np.asarray(a)"),
        ("astensor.as_tensor(a)", "astensor.as_tensor(a)"),
        ("astensor.as_tensor(a, dtype=None)", "astensor.as_tensor(a, dtype=None)"),
        ("astensor.as_tensor(a, dtype=astensor.float32, device='cpu')",
         "astensor.as_tensor(a, dtype=astensor.float32, device='cpu')"),
        ("astensor.reference.as_tensor(a)", "ref(a)"),
        ("astensor.as_tensor(t)  (same tensor back)", "astensor.as_tensor(t)"),
    ]
    if torch is not None:
        env["tt"] = torch.as_tensor(a)
        rows += [
            ("torch.as_tensor(a)", "torch.as_tensor(a)"),
            ("torch.as_tensor(a, dtype=None)", "torch.as_tensor(a, dtype=None)"),
            ("torch.from_numpy(a)", "torch.from_numpy(a)"),
            ("torch.as_tensor(tt)  (same tensor back)", "torch.as_tensor(tt)"),
            ("astensor.as_tensor(torch tensor)  (DLPack)", "astensor.as_tensor(tt)"),
        ]
    print(f"# as_tensor call overhead ({platform.python_implementation()} "
          f"{platform.python_version()}, NumPy {np.__version__}"
          + (f", torch {torch.__version__}" if torch else "") +
          f", astensor impl={'optimized' if astensor.HAVE_IMPL else 'reference'})\n")
    print("| call | ns/call |\n|---|---:|")
    for label, stmt in rows:
        print(f"| `{label}` | {ns_per_call(stmt, env):.0f} |")
    global N
    N = 2000
    print("\n| list of 1000 Python floats | µs/call |\n|---|---:|")
    for label, stmt in [("astensor.as_tensor(lst)", "astensor.as_tensor(lst)"),
                        ("np.asarray(lst, dtype=np.float32)", "np.asarray(lst, dtype=np.float32)")] + (
            [("torch.as_tensor(lst)", "torch.as_tensor(lst)")] if torch else []):
        print(f"| `{label}` | {ns_per_call(stmt, env) / 1000:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
