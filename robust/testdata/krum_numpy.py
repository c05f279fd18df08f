#!/usr/bin/python3
"""Krum with numpy, for package robust (not run by go test).

    /usr/bin/python3 robust/testdata/krum_numpy.py answer > robust/testdata/krum_numpy.json
    /usr/bin/python3 robust/testdata/krum_numpy.py bench

answer writes the known answer that krum_numpy_test.go checks: a small input
(n = 9 updates of d = 6, two of them far off, all shifted by 1000) with the
Krum scores, Krum's choice and Multi-Krum's order for several F and
neighbour counts, every squared distance summed directly from the
differences (not from a Gram matrix, unlike fedgo).

bench times the usual numpy Krum and Multi-Krum (m = n - F, the mean of the
selected rows), the Gram matrix X @ X.T on the BLAS numpy
is linked with, then the distances, the partial sorts and the scores, on
n = 100 uniform updates of d = 10^6 (fedgo's BenchmarkKrum input), with
OPENBLAS_NUM_THREADS=1 and =2, and prints the best of five calls in wall and
process CPU time. Needs Debian's python3-numpy and libopenblas0-pthread (the
BLAS alternative then points at OpenBLAS; the script says which one it
found).
"""
import json
import os
import subprocess
import sys
import time

import numpy as np


def scores_direct(X, q):
    n = X.shape[0]
    D = np.array([[float(np.sum((X[i] - X[j]) ** 2)) for j in range(n)] for i in range(n)])
    return [float(np.sum(np.sort(np.delete(D[i], i))[:q])) for i in range(n)]


def answer():
    rng = np.random.default_rng(16)
    n, d = 9, 6
    X = rng.normal(size=(n, d))
    X[2] += 8.0   # two far-off updates
    X[6] -= 5.0
    X += 1000.0   # far from the origin: the centered Gram matrix must not lose it
    cases = []
    for f, neighbours in [(1, 0), (2, 0), (3, 0), (1, -1), (2, -1), (2, 3)]:
        q = {0: n - f - 2, -1: n - f - 1}.get(neighbours, neighbours)
        s = scores_direct(X, q)
        order = sorted(range(n), key=lambda i: (s[i], i))
        cases.append({"f": f, "neighbours": neighbours, "q": q, "scores": s,
                      "krum": order[0], "multikrum_order": order})
    json.dump({"updates": X.tolist(), "cases": cases}, sys.stdout, indent=1)
    print()


def krum_scores(X, f):
    n = X.shape[0]
    q = n - f - 2
    G = X @ X.T
    sq = np.diag(G)
    D = sq[:, None] + sq[None, :] - 2.0 * G
    np.maximum(D, 0.0, out=D)
    np.fill_diagonal(D, np.inf)
    return np.partition(D, q - 1, axis=1)[:, :q].sum(axis=1)


def krum_gram(X, f):
    return int(np.argmin(krum_scores(X, f)))


def multikrum_gram(X, f):
    """Multi-Krum with m = n - f: the mean of the m best-scored rows."""
    s = krum_scores(X, f)
    sel = np.argsort(s, kind="stable")[: X.shape[0] - f]
    return X[sel].mean(axis=0)


def blas():
    with open("/proc/self/maps") as m:
        libs = {l.split()[-1] for l in m if "blas" in l}
    return ", ".join(sorted(os.path.basename(l) for l in libs)) or "unknown"


def bench_one():
    rng = np.random.default_rng(100)
    X = rng.random((100, 10**6)) - 0.5
    for name, rule in (("Krum", krum_gram), ("Multi-Krum", multikrum_gram)):
        rule(X, 10)  # warm
        best_wall = best_cpu = float("inf")
        for _ in range(5):
            w, c = time.perf_counter(), time.process_time()
            rule(X, 10)
            best_wall = min(best_wall, time.perf_counter() - w)
            best_cpu = min(best_cpu, time.process_time() - c)
        print(f"numpy {np.__version__} on {blas()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}: "
              f"{name} F=10, n=100, d=1e6: best of 5 {best_wall * 1e3:.1f} ms wall, {best_cpu * 1e3:.1f} ms CPU")


def bench():
    for threads in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=threads)
        subprocess.run([sys.executable, __file__, "bench1"], env=env, check=True)


if __name__ == "__main__":
    {"answer": answer, "bench": bench, "bench1": bench_one}[sys.argv[1]]()
