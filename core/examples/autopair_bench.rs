//! Benchmark of `max_score_assignment` on a questionnaire-like score matrix.
//!
//! ```text
//! cargo run --release -p mentorops-core --example autopair_bench -- N [--cols M] [--seed S] [--uniform] [--dump PATH]
//! ```
//!
//! Builds an N × M (default M = N) matrix deterministically from the seed: 12 questions with
//! 2–6 options and a weight 1–5 each; every mentee (row) and mentor (column) picks one option
//! per question from a skewed distribution (some options are popular); the score of a pair is
//! `round(10_000 × Σ weight·[same option] / Σ weight)`, and about 2 % of the pairs are
//! FORBIDDEN. `--uniform` draws the scores uniformly from 0..=10 000 instead (same 2 %
//! FORBIDDEN), a matrix without the questionnaire's ties.
//!
//! Prints the median wall time of 3 runs (and the thread's CPU time of that run, from
//! `/proc/thread-self/schedstat`, which tells on a shared machine how much of the wall time was
//! spent waiting), the total score and the number of pairs. `--dump PATH` writes the matrix as
//! raw little-endian i64, row-major, FORBIDDEN kept, for `autopair_scipy.py`.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use mentorops_core::assignment::{FORBIDDEN, max_score_assignment};
use mentorops_core::rng::SplitMix64;

struct Question {
    weight: u64,
    /// Relative popularity of each option.
    popularity: Vec<u64>,
}

impl Question {
    fn pick(&self, rng: &mut SplitMix64) -> u8 {
        let sum: u64 = self.popularity.iter().sum();
        let mut x = rng.below(sum);
        for (o, &p) in self.popularity.iter().enumerate() {
            if x < p {
                return o as u8;
            }
            x -= p;
        }
        0
    }
}

fn questionnaire_scores(rows: usize, cols: usize, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix64(seed);
    let questions: Vec<Question> = (0..12)
        .map(|_| {
            let options = 2 + rng.below(5) as usize;
            let weight = 1 + rng.below(5);
            // Skewed: popularity 1..=512, cubic in a uniform draw, so one or two options of
            // each question take most answers.
            let popularity = (0..options)
                .map(|_| {
                    let k = 1 + rng.below(8);
                    k * k * k
                })
                .collect();
            Question { weight, popularity }
        })
        .collect();
    let weight_sum: u64 = questions.iter().map(|q| q.weight).sum();
    let answers = |rng: &mut SplitMix64, n: usize| -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| questions.iter().map(|q| q.pick(rng)).collect())
            .collect()
    };
    let mentees = answers(&mut rng, rows);
    let mentors = answers(&mut rng, cols);
    let mut scores = Vec::with_capacity(rows * cols);
    for a in &mentees {
        for b in &mentors {
            if rng.below(50) == 0 {
                scores.push(FORBIDDEN);
                continue;
            }
            let same: u64 = questions
                .iter()
                .zip(a.iter().zip(b))
                .filter(|(_, (x, y))| x == y)
                .map(|(q, _)| q.weight)
                .sum();
            // round(10_000 · same / weight_sum), half up.
            scores.push(((20_000 * same + weight_sum) / (2 * weight_sum)) as i64);
        }
    }
    scores
}

fn uniform_scores(rows: usize, cols: usize, seed: u64) -> Vec<i64> {
    let mut rng = SplitMix64(seed);
    (0..rows * cols)
        .map(|_| {
            if rng.below(50) == 0 {
                FORBIDDEN
            } else {
                rng.below(10_001) as i64
            }
        })
        .collect()
}

/// CPU time of this thread so far, in seconds (Linux; `None` elsewhere).
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

struct Args {
    rows: usize,
    cols: usize,
    seed: u64,
    uniform: bool,
    dump: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut rows = None;
    let mut cols = None;
    let mut seed = 2026;
    let mut dump = None;
    let mut uniform = false;
    let mut it = std::env::args().skip(1);
    let num = |v: Option<String>, what: &str| -> Result<u64, String> {
        v.ok_or(format!("{what} needs a value"))?
            .parse()
            .map_err(|e| format!("{what}: {e}"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--cols" => cols = Some(num(it.next(), "--cols")? as usize),
            "--seed" => seed = num(it.next(), "--seed")?,
            "--uniform" => uniform = true,
            "--dump" => dump = Some(it.next().ok_or("--dump needs a path")?),
            _ if rows.is_none() => rows = Some(num(Some(a), "N")? as usize),
            _ => return Err(format!("unexpected argument {a:?}")),
        }
    }
    let rows = rows.unwrap_or(2000);
    Ok(Args {
        rows,
        cols: cols.unwrap_or(rows),
        seed,
        uniform,
        dump,
    })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "autopair_bench: {e}\nusage: autopair_bench N [--cols M] [--seed S] [--uniform] [--dump PATH]"
            );
            return ExitCode::from(2);
        }
    };
    let (rows, cols) = (args.rows, args.cols);
    let t = Instant::now();
    let scores = if args.uniform {
        uniform_scores(rows, cols, args.seed)
    } else {
        questionnaire_scores(rows, cols, args.seed)
    };
    let forbidden = scores.iter().filter(|&&s| s == FORBIDDEN).count();
    eprintln!(
        "built {} {rows}x{cols} (seed {}, {:.2}% forbidden) in {:.2}s",
        if args.uniform {
            "uniform"
        } else {
            "questionnaire"
        },
        args.seed,
        100.0 * forbidden as f64 / scores.len().max(1) as f64,
        t.elapsed().as_secs_f64()
    );
    if let Some(path) = &args.dump {
        let bytes: Vec<u8> = scores.iter().flat_map(|s| s.to_le_bytes()).collect();
        if let Err(e) = std::fs::File::create(path).and_then(|mut f| f.write_all(&bytes)) {
            eprintln!("autopair_bench: cannot write {path}: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("dumped to {path}");
    }

    let mut times = Vec::new();
    let mut result = None;
    for _ in 0..3 {
        let cpu = thread_cpu_seconds();
        let t = Instant::now();
        let a = max_score_assignment(rows, cols, &scores);
        let wall = t.elapsed().as_secs_f64();
        let cpu = cpu.zip(thread_cpu_seconds()).map(|(a, b)| b - a);
        times.push((wall, cpu));
        if let Some(prev) = &result {
            assert_eq!(prev, &a, "runs disagree");
        }
        result = Some(a);
    }
    let Some(a) = result else {
        return ExitCode::FAILURE;
    };
    let runs: Vec<String> = times.iter().map(|(t, _)| format!("{t:.3}")).collect();
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (median, median_cpu) = times[1];
    let cpu = median_cpu.map_or("n/a".to_string(), |c| format!("{c:.3}"));
    println!(
        "n={rows} cols={cols} time_s={median:.3} cpu_s={cpu} (runs {}) total={} pairs={}",
        runs.join(" "),
        a.total,
        a.pairs.len()
    );
    ExitCode::SUCCESS
}
