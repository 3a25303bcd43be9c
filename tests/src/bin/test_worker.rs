//! `mentorops worker` (or, with the argument `run`, `mentorops run`: the chat front-ends too)
//! for the process-level tests (kill -9, SIGTERM, replicas): the same start-up and the same
//! `app::run` as the real binary, without its command line, so the tests can find it as
//! `CARGO_BIN_EXE_mentorops-test-worker`. Settings come from `config/` and the environment
//! (`MENTOROPS__…`), exactly as for the real binary.

use std::path::PathBuf;
use std::sync::Arc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        ))
        .with_writer(std::io::stderr)
        .init();
    let dir = std::env::var("MENTOROPS_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config")));
    let settings = mentorops_bot::app::load_settings(&dir, "local")?;
    let engine = Arc::new(mentorops_bot::app::open(settings).await?);
    let front_ends = std::env::args().nth(1).as_deref() == Some("run");
    mentorops_bot::app::run(&engine, front_ends).await
}
