//! Maximum-total-score one-to-one assignment (auto-pairing, SPEC §4).
//!
//! [`max_score_assignment`] pairs the rows of a score matrix (mentees) with its columns
//! (mentors) so that every row and every column is used at most once and the sum of the
//! scores of the chosen pairs is as large as possible. It is exact, not greedy.
//!
//! # Algorithm
//!
//! Scores are turned into costs `cost = C - score` (with `C` the largest allowed score; a
//! forbidden pair costs `C`, exactly like a score of 0), the matrix is oriented so that it has
//! no more rows than columns, and a minimum-cost assignment of every row is found with the
//! Jonker–Volgenant shortest-augmenting-path method (R. Jonker, A. Volgenant, "A shortest
//! augmenting path algorithm for dense and sparse linear assignment problems", Computing 38,
//! 1987), in the rectangular form of D. F. Crouse ("On implementing 2D rectangular assignment
//! algorithms", IEEE TAES 52(4), 2016), which is also what SciPy's `linear_sum_assignment`
//! implements:
//!
//! 1. augmenting row reduction (two passes) assigns most rows cheaply while lowering column
//!    potentials;
//! 2. every row still free is then assigned along a shortest augmenting path (Dijkstra on
//!    reduced costs, all equally-distant columns taken at once), after which the column
//!    potentials are updated so that reduced costs stay non-negative.
//!
//! Columns that are never assigned keep the potential 0, the largest one, which is what makes
//! the successive shortest paths optimal for rectangular matrices too. Since scores are
//! non-negative, the best assignment of all `min(rows, cols)` rows/columns has the same total as
//! the best partial one; pairs that are forbidden are finally dropped from the result.
//!
//! The arithmetic is exact integer arithmetic. The solver runs on `i32` when the potentials
//! provably fit (the case for scores up to 10 000 and up to about 5 000 rows), on `i64`
//! otherwise, and on `i128` for absurdly large scores, so no input can overflow it.
//! Time is `O(n² · m)` in the worst case for `n ≤ m`, usually far less; memory is one copy of
//! the matrix.

use std::ops::{Add, BitOr, Sub};

/// A score that marks a pair as not allowed (hard filter).
pub const FORBIDDEN: i64 = i64::MIN;

/// The result of [`max_score_assignment`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// (row, col) pairs, sorted by row; never contains a FORBIDDEN pair.
    pub pairs: Vec<(usize, usize)>,
    /// Sum of the scores of `pairs` (saturating at `i64::MAX`, which needs scores no caller
    /// builds).
    pub total: i64,
}

/// Maximum-total-score one-to-one assignment over a rows × cols matrix in row-major order.
/// Scores are >= 0 (0..=10_000 in practice) or FORBIDDEN. Rows and columns may be left
/// unassigned (rectangular matrices, forbidden pairs). Among maximum-total assignments any one
/// may be returned.
///
/// Any negative score is treated like [`FORBIDDEN`] (a pair with a negative score never
/// belongs to a maximum-total assignment). Pairs scoring 0 may be returned. If `scores.len()`
/// is not `rows * cols` the input is not a matrix and the empty assignment is returned.
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

    // Every intermediate value of the solver is bounded in magnitude by (6·nr + 7)·C (see
    // `Solver`); pick the narrowest integer type that holds twice that.
    let bound = (i128::try_from(nr).unwrap_or(i128::MAX / 4) + 2)
        .saturating_mul(8)
        .saturating_mul(i128::from(c_max).max(1));
    let col_of_row = if bound <= i128::from(i32::MAX) {
        solve::<i32>(scores, cols, transposed, nr, nc, c_max)
    } else if bound <= i128::from(i64::MAX) {
        solve::<i64>(scores, cols, transposed, nr, nc, c_max)
    } else {
        solve::<i128>(scores, cols, transposed, nr, nc, c_max)
    };

    let mut pairs = Vec::with_capacity(nr);
    let mut total: i64 = 0;
    for (r, c) in col_of_row.into_iter().enumerate() {
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

/// The integer types the solver runs on.
trait Num: Copy + Ord + Add<Output = Self> + Sub<Output = Self> + BitOr<Output = Self> {
    const ZERO: Self;
    const MAX: Self;
    /// Converts a value known to fit (the caller checked the bound).
    fn from_i64(x: i64) -> Self;
}

impl Num for i32 {
    const ZERO: Self = 0;
    const MAX: Self = i32::MAX;
    #[allow(clippy::cast_possible_truncation)]
    fn from_i64(x: i64) -> Self {
        x as i32
    }
}

impl Num for i64 {
    const ZERO: Self = 0;
    const MAX: Self = i64::MAX;
    fn from_i64(x: i64) -> Self {
        x
    }
}

impl Num for i128 {
    const ZERO: Self = 0;
    const MAX: Self = i128::MAX;
    fn from_i64(x: i64) -> Self {
        i128::from(x)
    }
}

/// Marks a free row or column in `x` / `y`.
const NONE: usize = usize::MAX;

/// Builds the `nr × nc` cost matrix (`nr <= nc`, transposed from `scores` when `transposed`)
/// and returns, for each of its rows, the column assigned to it.
fn solve<T: Num>(
    scores: &[i64],
    cols: usize,
    transposed: bool,
    nr: usize,
    nc: usize,
    c_max: i64,
) -> Vec<usize> {
    let to_cost = |s: i64| T::from_i64(if s >= 0 { c_max - s } else { c_max });
    let mut cost: Vec<T> = Vec::with_capacity(nr * nc);
    if transposed {
        // cost[j][i] = f(scores[i][j]); `cols` = nr here, `nc` = the original row count.
        // Blocked so that both sides stay in cache.
        const B: usize = 64;
        cost.resize(nr * nc, T::ZERO);
        for i0 in (0..nc).step_by(B) {
            for j0 in (0..nr).step_by(B) {
                for i in i0..(i0 + B).min(nc) {
                    let src = &scores[i * cols..(i + 1) * cols];
                    for j in j0..(j0 + B).min(nr) {
                        cost[j * nc + i] = to_cost(src[j]);
                    }
                }
            }
        }
    } else {
        cost.extend(scores.iter().map(|&s| to_cost(s)));
    }
    let bound = T::from_i64(c_max.max(1)); // only used as a cap, see `reduce_rows`
    let mut solver = Solver::new(&cost, nr, nc);
    solver.run(bound);
    solver.x
}

/// Jonker–Volgenant state for an `nr × nc` cost matrix with `nr <= nc`.
///
/// Invariants: `v[j] <= 0` for every column and `v[j] == 0` for every free column; for every
/// assigned row `i`, `x[i]` minimises `cost[i][j] - v[j]` (all reduced costs are non-negative,
/// with the row potential `u[i] = cost[i][x[i]] - v[x[i]]` left implicit). Bounds: with `C` the
/// largest cost and `M = max(-v)`, row reduction keeps `M <= (nr + 1)·C`, each augmentation
/// raises `M` by at most `C`, so `M <= (2·nr + 1)·C` and every value computed stays within
/// `(6·nr + 7)·C` in magnitude.
struct Solver<'a, T> {
    cost: &'a [T],
    nr: usize,
    nc: usize,
    /// Column potentials.
    v: Vec<T>,
    /// Column of each row, or NONE.
    x: Vec<usize>,
    /// Row of each column, or NONE.
    y: Vec<usize>,
}

impl<'a, T: Num> Solver<'a, T> {
    fn new(cost: &'a [T], nr: usize, nc: usize) -> Self {
        Solver {
            cost,
            nr,
            nc,
            v: vec![T::ZERO; nc],
            x: vec![NONE; nr],
            y: vec![NONE; nc],
        }
    }

    fn row(&self, i: usize) -> &'a [T] {
        let cost: &'a [T] = self.cost;
        &cost[i * self.nc..(i + 1) * self.nc]
    }

    fn run(&mut self, c: T) {
        // -v may not go below this during row reduction: (nr + 1)·C.
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

    /// Augmenting row reduction: each free row takes the column where its reduced cost is
    /// smallest, lowering that column's potential to the second smallest so that the row it
    /// displaces (which is retried) is less attracted to it. Returns the rows left free.
    fn reduce_rows(&mut self, mut free: Vec<usize>, floor: T) -> Vec<usize> {
        let n = self.nc;
        let limit = free.len().saturating_mul(n);
        let mut current = 0;
        let mut new_free = 0;
        let mut count = 0usize;
        while current < free.len() {
            count += 1;
            let i = free[current];
            current += 1;
            // Smallest and second smallest reduced cost of row i.
            let row = self.row(i);
            let mut j1 = 0;
            let mut u1 = row[0] - self.v[0];
            let mut j2 = NONE;
            let mut u2 = u1; // meaningful only when j2 != NONE
            for (j, (&cij, &vj)) in row.iter().zip(&self.v).enumerate().skip(1) {
                let h = cij - vj;
                if j2 == NONE || h < u2 {
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
            let lowered = j2 != NONE && u1 < u2 && self.v[j1] - (u2 - u1) >= floor;
            if count < limit {
                if lowered {
                    self.v[j1] = self.v[j1] - (u2 - u1);
                } else if i0 != NONE && j2 != NONE && u1 == u2 {
                    // A tie: take the other minimum instead (free or not).
                    j1 = j2;
                    i0 = self.y[j2];
                }
                if i0 != NONE {
                    if lowered {
                        // Retry the displaced row at once.
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

    /// Assigns the free row `start` along a shortest augmenting path (Dijkstra on reduced
    /// costs). All columns at the current minimum distance are settled together as one
    /// "level"; the rows assigned to them are then scanned by full-width, branch-free passes
    /// over contiguous arrays (which the compiler vectorises): for an already settled column
    /// the update can never fire, because reduced costs are non-negative, so no list of the
    /// columns still to do is needed, only a mask for the minimum search.
    fn augment(&mut self, sp: &mut ShortestPath<T>, start: usize) {
        let ShortestPath {
            d,
            pred,
            done,
            ready,
            level,
        } = sp;
        let start_row = self.row(start);
        let start_id = row_id(start);
        let mut mind = T::MAX;
        for ((((dj, pj), mj), &cj), &vj) in d
            .iter_mut()
            .zip(pred.iter_mut())
            .zip(done.iter_mut())
            .zip(start_row)
            .zip(&self.v)
        {
            *dj = cj - vj;
            *pj = start_id;
            *mj = T::ZERO;
            mind = mind.min(*dj);
        }
        ready.clear();
        let sink = loop {
            // Settle the columns still to do that are at distance `mind` (there is one: a
            // free column is never settled, and `mind` is the least distance of those to do).
            level.clear();
            for (j, (&dj, &mj)) in d.iter().zip(done.iter()).enumerate() {
                if dj | mj == mind {
                    level.push(j);
                }
            }
            if let Some(&j) = level.iter().find(|&&j| self.y[j] == NONE) {
                break j;
            }
            if level.is_empty() {
                // Unreachable (see above); leaves `start` free rather than looping.
                return;
            }
            for &j in level.iter() {
                done[j] = T::MAX;
            }
            ready.extend_from_slice(level);
            // Scan the rows of the level. The minimum over the columns to do computed by the
            // last pass is the next distance, as distances only decrease.
            for &j0 in level.iter() {
                let i = self.y[j0];
                let row = self.row(i);
                let h = row[j0] - self.v[j0] - mind;
                let id = row_id(i);
                let mut next = T::MAX;
                for ((((dj, pj), &mj), &cj), &vj) in d
                    .iter_mut()
                    .zip(pred.iter_mut())
                    .zip(done.iter())
                    .zip(row)
                    .zip(&self.v)
                {
                    let r = cj - vj - h;
                    let better = r < *dj;
                    *dj = if better { r } else { *dj };
                    *pj = if better { id } else { *pj };
                    next = next.min(*dj | mj);
                }
                mind = next;
            }
        };
        // Update the potentials of the settled columns.
        let dist = d[sink];
        for &j in ready.iter() {
            self.v[j] = self.v[j] - (dist - d[j]);
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
    /// Distance label of each column (always >= 0).
    d: Vec<T>,
    /// Row from which each column's label came.
    pred: Vec<u32>,
    /// `T::MAX` for a settled column, 0 for one to do; `d | done` is the search key.
    done: Vec<T>,
    /// Settled columns whose row was scanned.
    ready: Vec<usize>,
    /// Columns of the current level.
    level: Vec<usize>,
}

impl<T: Num> ShortestPath<T> {
    fn new(n: usize) -> Self {
        ShortestPath {
            d: vec![T::ZERO; n],
            pred: vec![0; n],
            done: vec![T::ZERO; n],
            ready: Vec::with_capacity(n),
            level: Vec::with_capacity(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        fn assignment_matches_brute_force_wide((rows, cols, scores) in matrix(0..=4, 0..=12)) {
            check_optimal(rows, cols, &scores);
        }

        #[test]
        fn assignment_matches_brute_force_tall((rows, cols, scores) in matrix(0..=12, 0..=4)) {
            check_optimal(rows, cols, &scores);
        }
    }

    /// splitmix64, for deterministic larger instances.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// A permutation-shaped optimum: score 10 000 on (i, π(i)), random < 5 000 elsewhere
    /// (some of it forbidden), so the optimum is exactly π.
    fn planted(rows: usize, cols: usize, seed: u64) -> (Vec<i64>, Vec<(usize, usize)>) {
        let mut rng = Rng(seed);
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

    #[test]
    fn assignment_all_ties_large() {
        // Many equal scores stress the tie handling of the row reduction.
        let (rows, cols) = (60, 80);
        let mut rng = Rng(7);
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
