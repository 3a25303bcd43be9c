//! Start-up shared by every subcommand: configuration, database, migrations, the engine; and
//! the long-running process of `mentorops run` and `mentorops worker`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mentorops_core::clock::SystemClock;
use mentorops_core::command::Engine;
use mentorops_core::db::Db;
use mentorops_core::settings::Settings;
use mentorops_worker::Worker;
use secrecy::ExposeSecret;
use tracing::info;

/// The built-in defaults, then `config_dir/default.toml` and `config_dir/<profile>.toml` where
/// they exist, then `MENTOROPS__…` variables (`Settings::load`).
pub fn load_settings(config_dir: &Path, profile: &str) -> anyhow::Result<Settings> {
    Ok(Settings::load(config_dir, profile)?)
}

/// Connects and brings the schema up to date (migrations are idempotent).
pub async fn open(settings: Settings) -> anyhow::Result<Engine> {
    std::fs::create_dir_all(&settings.app.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}",
            settings.app.data_dir.display()
        )
    })?;
    let db = Db::connect(
        settings.database.url.expose_secret(),
        settings.database.max_connections,
    )
    .await
    .context("cannot open the database (database.url / MENTOROPS__DATABASE__URL)")?;
    db.migrate().await.context("cannot migrate the database")?;
    Ok(Engine::new(db, Arc::new(settings), Arc::new(SystemClock))?)
}

/// The long-running process: the chat front-ends whose tokens are set (`front_ends`) and the
/// worker (apalis jobs on the configured queue, the feeder, cron, `/healthz` + `/metrics`),
/// until SIGINT/SIGTERM or a front-end fails. Shutdown is graceful: jobs that are running
/// finish, the rest stay queued for the next start.
pub async fn run(engine: &Arc<Engine>, front_ends: bool) -> anyhow::Result<()> {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let mut fronts = tokio::task::JoinSet::new();
    if front_ends {
        let s = engine.settings();
        if s.telegram.token.is_some() {
            let (e, stop) = (engine.clone(), shutdown.clone());
            fronts.spawn(async move {
                crate::telegram::run(e, stop)
                    .await
                    .context("Telegram front-end")
            });
        }
        if s.discord.token.is_some() {
            let (e, stop) = (engine.clone(), shutdown.clone());
            fronts.spawn(async move {
                crate::discord::run(e, stop)
                    .await
                    .context("Discord front-end")
            });
        }
        if fronts.is_empty() {
            info!("no chat token configured: use `mentorops console --as EMAIL` to run commands");
        } else {
            tokio::spawn(crate::chat::prune(engine.clone(), shutdown.clone()));
        }
    }
    let worker = Worker::start(engine.clone(), shutdown.clone())
        .await
        .context("starting the worker")?;
    info!(
        name = %worker.name,
        health = ?worker.health_addr,
        "worker started; Ctrl-C or SIGTERM stops it"
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    let outcome = tokio::select! {
        Some(ended) = fronts.join_next(), if !fronts.is_empty() => match ended {
            Ok(Ok(())) => Err(anyhow::anyhow!("a chat front-end stopped")),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(anyhow::Error::new(e).context("a chat front-end")),
        },
        _ = tokio::signal::ctrl_c() => Ok(()),
        _ = term.recv() => Ok(()),
    };
    info!("stopping: running jobs finish, the rest stay queued");
    shutdown.cancel();
    worker.wait().await;
    while let Some(ended) = fronts.join_next().await {
        if outcome.is_ok() {
            ended.context("a chat front-end")??;
        }
    }
    info!("stopped");
    outcome
}
