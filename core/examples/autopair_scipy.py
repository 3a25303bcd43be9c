"""Solve a matrix dumped by `autopair_bench --dump PATH` with SciPy, for comparison.

usage: python3 autopair_scipy.py PATH ROWS [COLS]

FORBIDDEN (i64::MIN, or any negative score) is mapped to score 0 for
linear_sum_assignment(maximize=True) -- equivalent, since forbidden pairs are
dropped from the result afterwards. Prints the median wall time of 3 runs (the
linear_sum_assignment call only; with the process CPU time of that run) and the
total of the allowed pairs.
"""

import sys
import time

import numpy as np
import scipy
from scipy.optimize import linear_sum_assignment


def main() -> None:
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    path, rows = sys.argv[1], int(sys.argv[2])
    cols = int(sys.argv[3]) if len(sys.argv) == 4 else rows
    scores = np.fromfile(path, dtype="<i8").reshape(rows, cols)
    allowed = scores >= 0
    scipy_scores = np.where(allowed, scores, 0)

    times = []
    result = None
    for _ in range(3):
        t, cpu = time.perf_counter(), time.process_time()
        r, c = linear_sum_assignment(scipy_scores, maximize=True)
        times.append((time.perf_counter() - t, time.process_time() - cpu))
        result = (r, c)
    r, c = result
    keep = allowed[r, c]
    total = int(scores[r[keep], c[keep]].sum())
    runs = " ".join(f"{t:.3f}" for t, _ in times)
    median, median_cpu = sorted(times)[1]
    print(
        f"scipy {scipy.__version__} n={rows} cols={cols} time_s={median:.3f} "
        f"cpu_s={median_cpu:.3f} (runs {runs}) total={total} pairs={int(keep.sum())}"
    )


if __name__ == "__main__":
    main()
