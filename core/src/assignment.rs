//! Maximum-total-score one-to-one assignment (auto-pairing, docs/domain.md#autopair).
//!
//! [`max_score_assignment`] pairs the rows of a score matrix (mentees) with its columns
//! (mentors) so that every row and every column is used at most once and the sum of the
//! scores of the chosen pairs is as large as possible. It is exact, not greedy.
//!
//! The columns are places, not people: `/autopair` gives a mentor who takes several mentees at
//! once one column per free place (docs/domain.md#capacity), so "each column once" is "each
//! place once", and a mentor with two free places may get two rows.
//!
//! # Algorithm
//!
//! Scores become costs `cost = C - score`, with `C` the largest allowed score; a forbidden pair
//! costs `C`, exactly like a score of 0. The matrix is oriented to have no more rows than
//! columns (transposed if needed), and a minimum-cost assignment of every row is found with the
//! shortest-augmenting-path method of Jonker and Volgenant (R. Jonker, A. Volgenant, "A shortest
//! augmenting path algorithm for dense and sparse linear assignment problems", Computing 38,
//! 1987), in its rectangular form (D. F. Crouse, "On implementing 2D rectangular assignment
//! algorithms", IEEE TAES 52(4), 2016 — the method behind SciPy's `linear_sum_assignment`):
//!
//! 1. Augmenting row reduction, two passes: each free row takes the column where its reduced
//!    cost is least and lowers that column's potential to its second-least reduced cost; the row
//!    it displaces is retried. This assigns most rows cheaply.
//! 2. Every row still free is assigned along a shortest augmenting path: Dijkstra on the
//!    reduced costs (non-negative), until a free column is reached; then the potentials of the
//!    columns settled on the way are lowered so that reduced costs stay non-negative and the
//!    path's edges tight, and the path is flipped.
//!
//! Columns never assigned keep the potential 0, the largest one; this is what makes successive
//! shortest paths optimal for rectangular matrices too. As scores are non-negative, the best
//! assignment of all `min(rows, cols)` rows/columns has the same total as the best partial one,
//! and forbidden pairs are finally dropped from it.
//!
//! The Dijkstra search settles all the columns at the current least distance at once (a
//! "level"; score matrices built from questionnaires are full of ties), then scans the rows
//! assigned to them with full-width, branch-free passes over contiguous arrays, which the
//! compiler vectorises. A pass may run over settled columns too: with non-negative reduced costs
//! their labels can never improve, so no list of the columns still to do is kept.
//!
//! Arithmetic is exact integer arithmetic. The matrix is stored as `i16` when the scores allow
//! it (they are 0..=10 000 in practice), else `i32` or `i64`; potentials are `i32` when they
//! provably fit, else `i64`, else `i128` (absurdly large scores), so no input can overflow.
//! The worst case is `O(n² · m)` time for `n <= m`; memory is one copy of the matrix.

use std::ops::{Add, BitAnd, Sub};

/// A score that marks a pair as not allowed (hard filter).
pub const FORBIDDEN: i64 = i64::MIN;

/// The result of [`max_score_assignment`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// (row, col) pairs, sorted by row; never contains a FORBIDDEN pair.
    pub pairs: Vec<(usize, usize)>,
    /// Sum of the scores of `pairs` (saturating at `i64::MAX`, which takes scores no caller
    /// builds).
    pub total: i64,
}

/// Maximum-total-score one-to-one assignment over a rows × cols matrix in row-major order.
/// Scores are >= 0 (0..=10_000 in practice) or FORBIDDEN. Rows and columns may be left
/// unassigned (rectangular matrices, forbidden pairs). Among maximum-total assignments any one
/// may be returned.
///
/// Any negative score counts as [`FORBIDDEN`] (a pair with a negative score never belongs to
/// a maximum-total assignment). Pairs scoring 0 may be returned. If `scores.len()` is not
/// `rows * cols`, the input is not a matrix and the empty assignment is returned.
pub fn max_score_assignment(rows: usize, cols: usize, scores: &[i64]) -> Assignment {
    if rows.checked_mul(cols) != Some(scores.len()) || scores.is_empty() {
        return Assignment::default();
    }
    // The largest allowed score; with none there is nothing to pair.
    let Some(c_max) = scores.iter().copied().filter(|&s| s >= 0).max() else {
        return Assignment::default();
    };
    let transposed = rows > cols;
    let (nr, nc) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let m = Matrix {
        scores,
        cols,
        transposed,
        nr,
        nc,
        c_max,
    };

    // Every value the solver computes is at most (6·nr + 7)·C in magnitude (see `Solver`).
    let bound = i128::try_from(nr)
        .unwrap_or(i128::MAX)
        .saturating_add(2)
        .saturating_mul(8)
        .saturating_mul(i128::from(c_max.max(1)));
    let small_costs = c_max <= i64::from(i16::MAX);
    let col_of_row = if bound <= i128::from(i32::MAX) {
        if small_costs {
            solve::<i16, i32>(&m)
        } else {
            solve::<i32, i32>(&m)
        }
    } else if bound <= i128::from(i64::MAX) {
        if small_costs {
            solve::<i16, i64>(&m)
        } else {
            solve::<i64, i64>(&m)
        }
    } else {
        solve::<i64, i128>(&m)
    };

    let mut pairs = Vec::with_capacity(nr);
    let mut total: i64 = 0;
    for (r, c) in col_of_row.into_iter().enumerate() {
        if c == NONE {
            continue; // never happens: every row of the smaller side is assigned
        }
        let (row, col) = if transposed { (c, r) } else { (r, c) };
        if let Some(&s) = scores.get(row * cols + col)
            && s >= 0
        {
            pairs.push((row, col));
            total = total.saturating_add(s);
        }
    }
    if transposed {
        pairs.sort_unstable();
    }
    Assignment { pairs, total }
}

/// The input and the orientation chosen for it.
struct Matrix<'a> {
    scores: &'a [i64],
    /// Columns of `scores`.
    cols: usize,
    /// Whether the solver's rows are the columns of `scores`.
    transposed: bool,
    /// The solver's rows and columns, `nr <= nc`.
    nr: usize,
    nc: usize,
    /// The largest allowed score (`>= 0`).
    c_max: i64,
}

/// How the cost matrix is stored (costs are in `0..=C`).
trait Stored: Copy {
    /// Converts a cost known to fit (the caller checked `C`).
    fn from_cost(x: i64) -> Self;
}

impl Stored for i16 {
    #[allow(clippy::cast_possible_truncation)]
    fn from_cost(x: i64) -> Self {
        x as i16
    }
}

impl Stored for i32 {
    #[allow(clippy::cast_possible_truncation)]
    fn from_cost(x: i64) -> Self {
        x as i32
    }
}

impl Stored for i64 {
    fn from_cost(x: i64) -> Self {
        x
    }
}

/// The integer types the potentials and distances are computed in.
trait Num: Copy + Ord + Add<Output = Self> + Sub<Output = Self> + BitAnd<Output = Self> {
    const ZERO: Self;
    const MAX: Self;
    /// Marks a settled column's distance; `SETTLED & MAX == MAX`.
    const SETTLED: Self;
}

impl Num for i32 {
    const ZERO: Self = 0;
    const MAX: Self = i32::MAX;
    const SETTLED: Self = -1;
}

impl Num for i64 {
    const ZERO: Self = 0;
    const MAX: Self = i64::MAX;
    const SETTLED: Self = -1;
}

impl Num for i128 {
    const ZERO: Self = 0;
    const MAX: Self = i128::MAX;
    const SETTLED: Self = -1;
}

/// Marks a free row or column in `x` / `y`.
const NONE: usize = usize::MAX;

/// Builds the `nr × nc` cost matrix and returns the column assigned to each of its rows.
fn solve<S: Stored, T: Num + From<S>>(m: &Matrix<'_>) -> Vec<usize> {
    let (nr, nc, c_max) = (m.nr, m.nc, m.c_max);
    let to_cost = |s: i64| S::from_cost(if s >= 0 { c_max - s } else { c_max });
    let cost: Vec<S> = if m.transposed {
        // cost[j][i] = f(scores[i][j]) with i < nc, j < nr = cols; in blocks so that both
        // sides stay in cache.
        const B: usize = 64;
        let mut cost = vec![to_cost(0); nr * nc];
        for i0 in (0..nc).step_by(B) {
            for j0 in (0..nr).step_by(B) {
                for i in i0..(i0 + B).min(nc) {
                    let src = &m.scores[i * m.cols..(i + 1) * m.cols];
                    for j in j0..(j0 + B).min(nr) {
                        cost[j * nc + i] = to_cost(src[j]);
                    }
                }
            }
        }
        cost
    } else {
        m.scores.iter().map(|&s| to_cost(s)).collect()
    };
    let c = T::from(S::from_cost(c_max));
    let mut solver = Solver::new(&cost, nr, nc);
    solver.run(c);
    solver.x
}

/// Jonker–Volgenant state for an `nr × nc` cost matrix with `nr <= nc`.
///
/// Invariants: `v[j] <= 0` for every column and `v[j] == 0` for every free column; for every
/// assigned row `i`, `x[i]` minimises `cost[i][j] - v[j]` (so all reduced costs are
/// non-negative, with the row potential `u[i] = cost[i][x[i]] - v[x[i]]` left implicit).
///
/// Bounds, with `C` the largest cost and `M = max(-v)`: row reduction never takes `M` past
/// `(nr + 1)·C` (it skips a lowering that would); an augmentation lowers a potential by at most
/// its path's length, which is at most `C` (a free column is at distance `<= C`); so
/// `M <= (2·nr + 1)·C`, distances are at most `C + M`, and every value computed stays within
/// `(6·nr + 7)·C` in magnitude.
struct Solver<'a, S, T> {
    cost: &'a [S],
    nr: usize,
    nc: usize,
    /// Column potentials.
    v: Vec<T>,
    /// Column of each row, or NONE.
    x: Vec<usize>,
    /// Row of each column, or NONE.
    y: Vec<usize>,
}

impl<'a, S: Stored, T: Num + From<S>> Solver<'a, S, T> {
    fn new(cost: &'a [S], nr: usize, nc: usize) -> Self {
        Solver {
            cost,
            nr,
            nc,
            v: vec![T::ZERO; nc],
            x: vec![NONE; nr],
            y: vec![NONE; nc],
        }
    }

    fn row(&self, i: usize) -> &'a [S] {
        let cost: &'a [S] = self.cost;
        &cost[i * self.nc..(i + 1) * self.nc]
    }

    /// Solves, `c` being the largest cost.
    fn run(&mut self, c: T) {
        // Row reduction keeps every potential >= -(nr + 1)·C.
        let mut floor = T::ZERO;
        for _ in 0..=self.nr {
            floor = floor - c;
        }
        let mut free: Vec<usize> = (0..self.nr).collect();
        for _ in 0..2 {
            if free.is_empty() {
                break;
            }
            free = self.reduce_rows(free, floor);
        }
        let mut sp = ShortestPath::new(self.nc);
        for i in free {
            self.augment(&mut sp, i);
        }
    }

    /// Augmenting row reduction over the free rows `free`; returns the rows left free.
    fn reduce_rows(&mut self, mut free: Vec<usize>, floor: T) -> Vec<usize> {
        // Displaced rows are retried at once, up to this many steps in all (some 1.3–3.6 per
        // row in practice); then the pass just finishes, which keeps it O(rows · cols).
        let limit = free.len().saturating_mul(8);
        let mut current = 0;
        let mut new_free = 0;
        let mut steps = 0usize;
        while current < free.len() {
            steps += 1;
            let i = free[current];
            current += 1;
            // Least (u1 at j1) and second least (u2 at j2) reduced cost of row i.
            let row = self.row(i);
            let mut j1 = 0;
            let mut u1 = T::from(row[0]) - self.v[0];
            let mut j2 = NONE;
            let mut u2 = T::MAX; // a real value once j2 != NONE
            for (j, (&cij, &vj)) in row.iter().zip(&self.v).enumerate().skip(1) {
                let h = T::from(cij) - vj;
                if h < u2 {
                    if h >= u1 {
                        u2 = h;
                        j2 = j;
                    } else {
                        u2 = u1;
                        j2 = j1;
                        u1 = h;
                        j1 = j;
                    }
                }
            }
            let mut i0 = self.y[j1];
            // Lower v[j1] so that j1 is only as attractive to row i as j2.
            let lowered = j2 != NONE && u1 < u2 && self.v[j1] - (u2 - u1) >= floor;
            if steps < limit {
                if lowered {
                    self.v[j1] = self.v[j1] - (u2 - u1);
                } else if i0 != NONE && j2 != NONE && u1 == u2 {
                    // A tie: take the other least column instead (free or not).
                    j1 = j2;
                    i0 = self.y[j2];
                }
                if i0 != NONE {
                    if lowered {
                        // Retry the displaced row at once (its slot is the one just read).
                        current -= 1;
                        free[current] = i0;
                    } else {
                        free[new_free] = i0;
                        new_free += 1;
                    }
                }
            } else if i0 != NONE {
                free[new_free] = i0;
                new_free += 1;
            }
            self.x[i] = j1;
            self.y[j1] = i;
            if i0 != NONE {
                self.x[i0] = NONE;
            }
        }
        free.truncate(new_free);
        free
    }

    /// Assigns the free row `start` along a shortest augmenting path.
    fn augment(&mut self, sp: &mut ShortestPath<T>, start: usize) {
        let ShortestPath {
            d,
            pred,
            ready,
            level,
        } = sp;
        // Labels from the start row (its own potential is taken as 0).
        let start_id = row_id(start);
        for (((dj, pj), &cj), &vj) in d
            .iter_mut()
            .zip(pred.iter_mut())
            .zip(self.row(start))
            .zip(&self.v)
        {
            *dj = T::from(cj) - vj;
            *pj = start_id;
        }
        ready.clear();
        let (sink, dist) = loop {
            // The least label of the columns still to do (settled ones hold SETTLED, which
            // `& MAX` turns into MAX), then all the columns at that distance. There is one: a
            // free column, which is never settled.
            let mind = d.iter().fold(T::MAX, |m, &dj| m.min(dj & T::MAX));
            level.clear();
            for (j, &dj) in d.iter().enumerate() {
                if dj == mind {
                    level.push(j);
                }
            }
            if let Some(&j) = level.iter().find(|&&j| self.y[j] == NONE) {
                break (j, mind);
            }
            if level.is_empty() {
                // Unreachable (see above); leaves `start` free rather than looping.
                return;
            }
            for &j in level.iter() {
                d[j] = T::SETTLED;
                ready.push((j, mind));
            }
            // Scan the rows of the level's columns. A label improves only if still to do:
            // `r >= mind` always (reduced costs are non-negative) and a settled column's label
            // is `SETTLED < 0 <= mind`.
            for &j0 in level.iter() {
                let i = self.y[j0];
                let row = self.row(i);
                let h = T::from(row[j0]) - self.v[j0] - mind;
                let id = row_id(i);
                for (((dj, pj), &cj), &vj) in
                    d.iter_mut().zip(pred.iter_mut()).zip(row).zip(&self.v)
                {
                    let r = T::from(cj) - vj - h;
                    // Branch-free with unconditional stores, so that it vectorises.
                    let keep = 0u32.wrapping_sub(u32::from(r >= *dj));
                    *pj = (*pj & keep) | (id & !keep);
                    *dj = r.min(*dj);
                }
            }
        };
        // Lower the potentials of the settled columns by how much closer than the sink they
        // are (the path's columns then stay tight).
        for &(j, dj) in ready.iter() {
            self.v[j] = self.v[j] - (dist - dj);
        }
        // Flip the path.
        let mut j = sink;
        loop {
            let i = pred[j] as usize;
            self.y[j] = i;
            let prev = std::mem::replace(&mut self.x[i], j);
            if i == start {
                break;
            }
            j = prev;
        }
    }
}

/// A row index as stored in `ShortestPath::pred`. Rows are the smaller side of a matrix held
/// in memory (`rows² <= rows × cols < 2^61`), so they always fit.
fn row_id(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Buffers of one shortest-path search, reused across searches.
struct ShortestPath<T> {
    /// Distance label of each column still to do (`>= 0`), or `T::SETTLED`.
    d: Vec<T>,
    /// The row from which each column's label came.
    pred: Vec<u32>,
    /// The settled columns whose rows were scanned, with their distances.
    ready: Vec<(usize, T)>,
    /// The columns of the current level.
    level: Vec<usize>,
}

impl<T: Num> ShortestPath<T> {
    fn new(n: usize) -> Self {
        ShortestPath {
            d: vec![T::ZERO; n],
            pred: vec![0; n],
            ready: Vec::with_capacity(n),
            level: Vec::with_capacity(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;
    use proptest::prelude::*;

    /// Best total by dynamic programming over (row, set of used columns); `cols <= 16`.
    fn brute_force(rows: usize, cols: usize, scores: &[i64]) -> i128 {
        let full = 1usize << cols;
        // best[mask] for the rows processed so far.
        let mut best = vec![i128::MIN; full];
        best[0] = 0;
        for r in 0..rows {
            let mut next = best.clone(); // row r left unassigned
            for (mask, &b) in best.iter().enumerate() {
                if b == i128::MIN {
                    continue;
                }
                for c in 0..cols {
                    let s = scores[r * cols + c];
                    if mask & (1 << c) == 0 && s >= 0 {
                        let m = mask | (1 << c);
                        next[m] = next[m].max(b + i128::from(s));
                    }
                }
            }
            best = next;
        }
        best.into_iter().max().unwrap_or(0)
    }

    /// Checks the shape of a result and returns its recomputed total.
    fn check_valid(rows: usize, cols: usize, scores: &[i64], a: &Assignment) -> i128 {
        let mut used_rows = vec![false; rows];
        let mut used_cols = vec![false; cols];
        let mut total: i128 = 0;
        for w in a.pairs.windows(2) {
            assert!(w[0].0 < w[1].0, "pairs not sorted by row: {:?}", a.pairs);
        }
        for &(r, c) in &a.pairs {
            assert!(r < rows && c < cols, "pair out of range: {r},{c}");
            assert!(!used_rows[r] && !used_cols[c], "row or column used twice");
            used_rows[r] = true;
            used_cols[c] = true;
            let s = scores[r * cols + c];
            assert!(s >= 0, "forbidden pair ({r},{c}) returned");
            total += i128::from(s);
        }
        assert!(a.pairs.len() <= rows.min(cols));
        total
    }

    fn check_optimal(rows: usize, cols: usize, scores: &[i64]) -> Assignment {
        let a = max_score_assignment(rows, cols, scores);
        let total = check_valid(rows, cols, scores, &a);
        assert_eq!(
            i128::from(a.total),
            total,
            "total is not the sum of the pairs"
        );
        assert_eq!(
            total,
            brute_force(rows, cols, scores),
            "not optimal: {rows}x{cols} {scores:?} -> {a:?}"
        );
        a
    }

    /// Best total by the textbook O(n²·m) Hungarian method (potentials and Dijkstra-like
    /// scans one column at a time), independent of the solver under test; forbidden pairs cost
    /// like a score of 0 and are dropped afterwards.
    fn reference_total(rows: usize, cols: usize, scores: &[i64]) -> i128 {
        let (n, m) = (rows.min(cols), rows.max(cols));
        if n == 0 {
            return 0;
        }
        let score = |r: usize, c: usize| {
            let s = if rows <= cols {
                scores[r * cols + c]
            } else {
                scores[c * cols + r]
            };
            i128::from(s.max(0))
        };
        // 1-based, with row/column 0 as the virtual start.
        let a = |r: usize, c: usize| -score(r - 1, c - 1);
        let inf = i128::MAX / 4;
        let (mut u, mut v) = (vec![0i128; n + 1], vec![0i128; m + 1]);
        let (mut p, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
        for i in 1..=n {
            p[0] = i;
            let mut j0 = 0;
            let mut minv = vec![inf; m + 1];
            let mut used = vec![false; m + 1];
            loop {
                used[j0] = true;
                let (i0, mut delta, mut j1) = (p[j0], inf, 0);
                for j in 1..=m {
                    if !used[j] {
                        let cur = a(i0, j) - u[i0] - v[j];
                        if cur < minv[j] {
                            minv[j] = cur;
                            way[j] = j0;
                        }
                        if minv[j] < delta {
                            delta = minv[j];
                            j1 = j;
                        }
                    }
                }
                for j in 0..=m {
                    if used[j] {
                        u[p[j]] += delta;
                        v[j] -= delta;
                    } else {
                        minv[j] -= delta;
                    }
                }
                j0 = j1;
                if p[j0] == 0 {
                    break;
                }
            }
            loop {
                let j1 = way[j0];
                p[j0] = p[j1];
                j0 = j1;
                if j0 == 0 {
                    break;
                }
            }
        }
        (1..=m)
            .filter(|&j| p[j] != 0)
            .map(|j| score(p[j] - 1, j - 1))
            .sum()
    }

    #[test]
    fn reference_agrees_with_brute_force() {
        let mut rng = SplitMix64(11);
        for _ in 0..200 {
            let (rows, cols) = (rng.below(7) as usize, rng.below(7) as usize);
            let scores: Vec<i64> = (0..rows * cols)
                .map(|_| match rng.below(4) {
                    0 => FORBIDDEN,
                    _ => rng.below(20) as i64,
                })
                .collect();
            assert_eq!(
                reference_total(rows, cols, &scores),
                brute_force(rows, cols, &scores)
            );
        }
    }

    /// A score matrix with a size in the given ranges: the entries are FORBIDDEN with
    /// probability 0, 20 or 60 %, else drawn from 0..=max for a max from tiny (many ties) to
    /// huge (exercising the `i64` and `i128` solvers).
    fn matrix(
        rows: std::ops::RangeInclusive<usize>,
        cols: std::ops::RangeInclusive<usize>,
    ) -> impl Strategy<Value = (usize, usize, Vec<i64>)> {
        (
            rows,
            cols,
            prop_oneof![
                Just(3i64),
                Just(10),
                Just(10_000),
                Just(2_000_000_000),
                Just(i64::MAX / 16)
            ],
            prop_oneof![Just(0u32), Just(20), Just(60)],
        )
            .prop_flat_map(|(rows, cols, max, forbid_pct)| {
                let cell = (0u32..100, 0..=max)
                    .prop_map(move |(p, s)| if p < forbid_pct { FORBIDDEN } else { s });
                (
                    Just(rows),
                    Just(cols),
                    proptest::collection::vec(cell, rows * cols),
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn assignment_matches_brute_force((rows, cols, scores) in matrix(0..=7, 0..=7)) {
            check_optimal(rows, cols, &scores);
        }

        #[test]
        fn assignment_matches_brute_force_3x6((rows, cols, scores) in matrix(3..=3, 6..=6)) {
            check_optimal(rows, cols, &scores);
        }

        #[test]
        fn assignment_matches_brute_force_6x3((rows, cols, scores) in matrix(6..=6, 3..=3)) {
            check_optimal(rows, cols, &scores);
        }

        #[test]
        fn assignment_matches_reference_mid_size(
            (rows, cols, scores) in (1usize..=40, 1usize..=40, prop_oneof![Just(2i64), Just(5), Just(10_000)])
                .prop_flat_map(|(rows, cols, max)| {
                    let cell = (0u32..100, 0..=max)
                        .prop_map(|(p, s)| if p < 5 { FORBIDDEN } else { s });
                    (Just(rows), Just(cols), proptest::collection::vec(cell, rows * cols))
                })
        ) {
            let a = max_score_assignment(rows, cols, &scores);
            let total = check_valid(rows, cols, &scores, &a);
            prop_assert_eq!(i128::from(a.total), total);
            prop_assert_eq!(total, reference_total(rows, cols, &scores));
        }

        #[test]
        fn assignment_matches_brute_force_wide((rows, cols, scores) in matrix(0..=4, 0..=12)) {
            check_optimal(rows, cols, &scores);
        }

        #[test]
        fn assignment_matches_brute_force_tall((rows, cols, scores) in matrix(0..=12, 0..=4)) {
            check_optimal(rows, cols, &scores);
        }
    }

    /// A permutation-shaped optimum: score 10 000 on (i, π(i)), random < 5 000 elsewhere
    /// (some of it forbidden), so the optimum is exactly π.
    fn planted(rows: usize, cols: usize, seed: u64) -> (Vec<i64>, Vec<(usize, usize)>) {
        let mut rng = SplitMix64(seed);
        let n = rows.min(cols);
        // A random injection of the smaller side into the larger one.
        let mut perm: Vec<usize> = (0..rows.max(cols)).collect();
        for k in (1..perm.len()).rev() {
            let r = rng.below(k as u64 + 1) as usize;
            perm.swap(k, r);
        }
        let mut scores: Vec<i64> = (0..rows * cols)
            .map(|_| {
                if rng.below(20) == 0 {
                    FORBIDDEN
                } else {
                    rng.below(5_000) as i64
                }
            })
            .collect();
        let mut pairs: Vec<(usize, usize)> = (0..n)
            .map(|k| {
                if rows <= cols {
                    (k, perm[k])
                } else {
                    (perm[k], k)
                }
            })
            .collect();
        pairs.sort_unstable();
        for &(r, c) in &pairs {
            scores[r * cols + c] = 10_000;
        }
        (scores, pairs)
    }

    #[test]
    fn assignment_planted_optimum_200x200() {
        let (scores, pairs) = planted(200, 200, 42);
        let a = max_score_assignment(200, 200, &scores);
        assert_eq!(a.total, 200 * 10_000);
        assert_eq!(a.pairs, pairs);
    }

    #[test]
    fn assignment_planted_optimum_rectangular() {
        for (rows, cols, seed) in [(120, 300, 1), (300, 120, 2), (1, 50, 3), (50, 1, 4)] {
            let (scores, pairs) = planted(rows, cols, seed);
            let a = max_score_assignment(rows, cols, &scores);
            assert_eq!(a.total, rows.min(cols) as i64 * 10_000, "{rows}x{cols}");
            assert_eq!(a.pairs, pairs, "{rows}x{cols}");
        }
    }

    #[test]
    fn assignment_textbook_examples() {
        // SciPy's documentation example, as a maximisation: the best permutation is
        // (0,0) (1,2) (2,1) with 4 + 5 + 2 = 11.
        let m = [4, 1, 3, 2, 0, 5, 3, 2, 2];
        let a = max_score_assignment(3, 3, &m);
        assert_eq!(a.total, 11);
        assert_eq!(a.pairs, vec![(0, 0), (1, 2), (2, 1)]);
        // The same matrix as costs (score = 5 - cost): the cheapest assignment costs 5, by
        // (0,1) (1,0) (2,2).
        let s: Vec<i64> = m.iter().map(|c| 5 - c).collect();
        let a = max_score_assignment(3, 3, &s);
        assert_eq!(a.total, 15 - 5);
        assert_eq!(a.pairs, vec![(0, 1), (1, 0), (2, 2)]);
        // The classic 4x4 Hungarian-method exercise, costs
        //   82 83 69 92 / 77 37 49 92 / 11 69 5 86 / 8 9 98 23:
        // the unique cheapest assignment costs 140 = 69 + 37 + 11 + 23.
        let costs = [82, 83, 69, 92, 77, 37, 49, 92, 11, 69, 5, 86, 8, 9, 98, 23];
        let s: Vec<i64> = costs.iter().map(|c| 100 - c).collect();
        let a = max_score_assignment(4, 4, &s);
        assert_eq!(a.total, 400 - 140);
        assert_eq!(a.pairs, vec![(0, 2), (1, 1), (2, 0), (3, 3)]);
    }

    #[test]
    fn assignment_empty_and_degenerate() {
        assert_eq!(max_score_assignment(0, 0, &[]), Assignment::default());
        assert_eq!(max_score_assignment(0, 5, &[]), Assignment::default());
        assert_eq!(max_score_assignment(5, 0, &[]), Assignment::default());
        let a = max_score_assignment(1, 1, &[7]);
        assert_eq!((a.pairs, a.total), (vec![(0, 0)], 7));
        let a = max_score_assignment(1, 1, &[0]);
        assert_eq!((a.pairs, a.total), (vec![(0, 0)], 0));
        assert_eq!(
            max_score_assignment(1, 1, &[FORBIDDEN]),
            Assignment::default()
        );
        assert_eq!(
            max_score_assignment(3, 4, &[FORBIDDEN; 12]),
            Assignment::default()
        );
        assert_eq!(max_score_assignment(4, 3, &[-1; 12]), Assignment::default());
        // All-zero scores: any full assignment is optimal; the total is 0.
        let a = max_score_assignment(3, 5, &[0; 15]);
        assert_eq!(a.total, 0);
        assert_eq!(a.pairs.len(), 3);
        // Not a matrix: empty, no panic.
        assert_eq!(
            max_score_assignment(2, 2, &[1, 2, 3]),
            Assignment::default()
        );
        assert_eq!(
            max_score_assignment(usize::MAX, 2, &[1, 2]),
            Assignment::default()
        );
    }

    #[test]
    fn assignment_forbidden_column_is_left_alone() {
        // Column 1 is forbidden for everyone; row 2 only allows column 1.
        let f = FORBIDDEN;
        let s = [5, f, 1, 3, f, 4, f, f, f];
        let a = max_score_assignment(3, 3, &s);
        assert_eq!(a.total, 9);
        assert_eq!(a.pairs, vec![(0, 0), (1, 2)]);
    }

    /// Profiles answering a few questions with skewed options, scored by agreement: many
    /// equal scores, like the real auto-pairing input.
    fn questionnaire(rows: usize, cols: usize, seed: u64) -> Vec<i64> {
        let mut rng = SplitMix64(seed);
        let profile = |rng: &mut SplitMix64| -> Vec<u64> {
            (0..6).map(|q| (rng.below(8) % (2 + q % 3)) % 3).collect()
        };
        let mentees: Vec<Vec<u64>> = (0..rows).map(|_| profile(&mut rng)).collect();
        let mentors: Vec<Vec<u64>> = (0..cols).map(|_| profile(&mut rng)).collect();
        let mut scores = Vec::with_capacity(rows * cols);
        for a in &mentees {
            for b in &mentors {
                let same = a.iter().zip(b).filter(|(x, y)| x == y).count() as i64;
                scores.push(if rng.below(50) == 0 {
                    FORBIDDEN
                } else {
                    10_000 * same / 6
                });
            }
        }
        scores
    }

    #[test]
    fn assignment_questionnaire_like_matches_reference() {
        for (rows, cols, seed) in [(150, 150, 1), (100, 180, 2), (180, 100, 3), (60, 60, 4)] {
            let scores = questionnaire(rows, cols, seed);
            let a = max_score_assignment(rows, cols, &scores);
            let total = check_valid(rows, cols, &scores, &a);
            assert_eq!(i128::from(a.total), total);
            assert_eq!(total, reference_total(rows, cols, &scores), "{rows}x{cols}");
        }
    }

    /// Runs the solver on `nr × nc` costs (`nr <= nc`) and checks the LP optimality
    /// certificate: every row assigned one-to-one, `v <= 0` with `v == 0` on free columns, and
    /// `cost[i][j] - v[j] >= cost[i][x[i]] - v[x[i]]` for all i, j (dual feasibility with the
    /// implicit row potentials, tight on the assignment).
    fn check_certificate<S: Stored, T: Num + From<S> + std::fmt::Debug>(
        cost: &[S],
        nr: usize,
        nc: usize,
        c: T,
    ) {
        let mut solver = Solver::<S, T>::new(cost, nr, nc);
        solver.run(c);
        let mut seen = vec![false; nc];
        for (i, &j) in solver.x.iter().enumerate() {
            assert!(j < nc, "row {i} left free");
            assert!(!seen[j], "column {j} used twice");
            seen[j] = true;
            assert_eq!(solver.y[j], i);
        }
        for (j, &vj) in solver.v.iter().enumerate() {
            assert!(vj <= T::ZERO, "v[{j}] = {vj:?} > 0");
            if solver.y[j] == NONE {
                assert_eq!(vj, T::ZERO, "free column {j} has v = {vj:?}");
            }
        }
        for i in 0..nr {
            let row = &cost[i * nc..(i + 1) * nc];
            let xi = solver.x[i];
            let u = T::from(row[xi]) - solver.v[xi];
            for (j, &cij) in row.iter().enumerate() {
                assert!(
                    T::from(cij) - solver.v[j] >= u,
                    "negative reduced cost at ({i},{j})"
                );
            }
        }
    }

    #[test]
    fn assignment_dual_certificate() {
        let mut rng = SplitMix64(5);
        for case in 0..300 {
            let nr = 1 + rng.below(40) as usize;
            let nc = nr
                + if case % 2 == 0 {
                    0
                } else {
                    rng.below(30) as usize
                };
            let max = [1, 3, 10, 10_000][case % 4];
            let cost16: Vec<i16> = (0..nr * nc)
                .map(|_| rng.below(max as u64 + 1) as i16)
                .collect();
            check_certificate::<i16, i32>(&cost16, nr, nc, max);
            let cost64: Vec<i64> = cost16.iter().map(|&c| i64::from(c)).collect();
            check_certificate::<i64, i128>(&cost64, nr, nc, i128::from(max));
        }
        for (n, seed) in [(150, 1), (100, 2)] {
            let scores = questionnaire(n, n + 30, seed);
            let cost: Vec<i16> = scores.iter().map(|&s| (10_000 - s.max(0)) as i16).collect();
            check_certificate::<i16, i32>(&cost, n, n + 30, 10_000);
        }
    }

    #[test]
    fn assignment_all_ties_large() {
        // Many equal scores stress the tie handling of the row reduction.
        let (rows, cols) = (60, 80);
        let mut rng = SplitMix64(7);
        let scores: Vec<i64> = (0..rows * cols).map(|_| rng.below(3) as i64).collect();
        let a = max_score_assignment(rows, cols, &scores);
        check_valid(rows, cols, &scores, &a);
        // Greedy lower bound and trivial upper bound.
        assert!(a.total <= 2 * rows as i64);
        let twos: usize = (0..rows)
            .filter(|&r| scores[r * cols..(r + 1) * cols].contains(&2))
            .count();
        assert!(a.total >= twos as i64);
    }
}
