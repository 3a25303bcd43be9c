//! Start-up shared by every subcommand: configuration, database, migrations, the engine.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mentorops_core::clock::SystemClock;
use mentorops_core::command::Engine;
use mentorops_core::db::Db;
use mentorops_core::settings::Settings;
use secrecy::ExposeSecret;

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
