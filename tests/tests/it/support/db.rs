//! Reading the test's database: people, counts, every column, the outbox, link codes; and the
//! gates the race tests hold the database with.

use mentorops_core::db::Backend;
use mentorops_core::store;
use sqlx::Row;

use super::TestApp;

impl TestApp {
    pub async fn user_id(&self, email: &str) -> i64 {
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::by_email(&mut c, email)
            .await
            .expect("query")
            .map(|u| u.id)
            .unwrap_or_else(|| panic!("no user {email}"))
    }

    pub async fn user(&self, email: &str) -> store::users::User {
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::by_email(&mut c, email)
            .await
            .expect("query")
            .unwrap_or_else(|| panic!("no user {email}"))
    }

    pub async fn personas(&self, email: &str) -> Vec<store::users::Persona> {
        let id = self.user_id(email).await;
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::users::personas_of(&mut c, id).await.expect("query")
    }

    /// A count from any SQL that returns one number column `n`.
    pub async fn count(&self, sql: &'static str) -> i64 {
        let row = sqlx::query(sql)
            .fetch_one(self.engine.db().pool())
            .await
            .expect("count");
        row.try_get::<i64, _>("n").expect("n")
    }

    /// Every table and column of the schema (the app's own tables).
    pub async fn columns(&self) -> Vec<(String, String)> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'public' ORDER BY 1, 2"
            }
        };
        let rows = sqlx::query(sql)
            .fetch_all(self.engine.db().pool())
            .await
            .expect("columns");
        rows.iter()
            .map(|r| (r.try_get("t").expect("t"), r.try_get("c").expect("c")))
            .collect()
    }

    /// The tables and columns where `needle` appears anywhere in the database.
    pub async fn places_holding(&self, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (t, c) in self.columns().await {
            let sql =
                format!("SELECT COUNT(*) AS n FROM {t} WHERE lower(CAST({c} AS TEXT)) LIKE $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(format!("%{}%", needle.to_lowercase()))
                .fetch_one(self.engine.db().pool())
                .await
                .expect("scan");
            if row.try_get::<i64, _>("n").expect("n") > 0 {
                found.push(format!("{t}.{c}"));
            }
        }
        found
    }

    /// A gate for race tests: a transaction holding the write locks the racers will need, so
    /// they all read first and then collide on their writes when `open_gate` lets them go.
    /// PostgreSQL: row locks on these personas and offers. SQLite: the database write lock.
    pub async fn close_gate(
        &self,
        persona_ids: &[i64],
        offer_ids: &[i64],
    ) -> sqlx::Transaction<'static, sqlx::Any> {
        let mut tx = self.engine.db().begin().await.expect("gate");
        if self.backend == Backend::Postgres {
            let list = |ids: &[i64]| {
                ids.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !persona_ids.is_empty() {
                let sql = format!(
                    "SELECT id FROM personas WHERE id IN ({}) FOR UPDATE",
                    list(persona_ids)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock personas");
            }
            if !offer_ids.is_empty() {
                let sql = format!(
                    "SELECT id FROM offers WHERE id IN ({}) FOR UPDATE",
                    list(offer_ids)
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *tx)
                    .await
                    .expect("lock offers");
            }
        }
        tx
    }

    /// Lets the racers go after they have had time to reach the gate.
    pub async fn open_gate(tx: sqlx::Transaction<'static, sqlx::Any>) {
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        tx.rollback().await.expect("open gate");
    }

    /// Every outbox row for the person with `email` (chat, email, edits), oldest first.
    pub async fn outbox_to(&self, email: &str) -> Vec<store::outbox::Message> {
        let id = self.user_id(email).await;
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        store::outbox::by_recipient(&mut c, id)
            .await
            .expect("outbox")
    }

    /// The first email of this kind queued for `email`.
    pub async fn email_row(&self, email: &str, kind: &str) -> store::outbox::Message {
        self.outbox_to(email)
            .await
            .into_iter()
            .find(|m| m.kind == kind && m.channel == "email")
            .expect("email row")
    }

    /// The link code in the newest welcome email to `email`.
    pub async fn code_for(&self, email: &str) -> String {
        let msgs = self.outbox_to(email).await;
        let body = msgs
            .iter()
            .rev()
            .find(|m| m.kind == "welcome")
            .map(|m| m.body_text.clone())
            .expect("welcome email");
        body.split("/link ")
            .nth(1)
            .map(|s| s.chars().take(8).collect())
            .expect("code in email")
    }
}
