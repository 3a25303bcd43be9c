//! The engine: what every front-end and the worker hold to reach the domain — the database,
//! the settings and the clock. Running a command is in `command::run`, suggestions in
//! `command::suggest`.

use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;
use crate::domain::{Actor, Frontend, Work};
use crate::error::{Error, Result};
use crate::program::ProgramSettings;
use crate::settings::Settings;

pub struct Engine {
    pub(crate) db: Db,
    pub(crate) settings: Arc<Settings>,
    pub(crate) program_defaults: ProgramSettings,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(db: Db, settings: Arc<Settings>, clock: Arc<dyn Clock>) -> Result<Self> {
        let program_defaults = settings
            .program_defaults()
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Self {
            db,
            settings,
            program_defaults,
            clock,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// The program settings a persona without a program goes by (from the configuration).
    pub fn program_defaults(&self) -> &ProgramSettings {
        &self.program_defaults
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The unit of work of something nobody typed (the worker's timers, the operator's command
    /// line): the system acts, and the audit log records the front-end.
    pub fn system_work<'a>(
        &'a self,
        tx: &'a mut sqlx::Transaction<'static, sqlx::Any>,
        frontend: Frontend,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Work<'a> {
        Work::new(
            tx,
            now,
            Actor::System,
            frontend,
            &self.settings,
            &self.program_defaults,
        )
    }
}
