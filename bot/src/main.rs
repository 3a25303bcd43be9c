//! The `mentorops` binary (SPEC §10): run, worker, console, migrate, admin, demo.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::bail;
use clap::{Parser, Subcommand};
use mentorops_bot::app;
use mentorops_bot::console::Console;
use mentorops_core::bootstrap;
use mentorops_core::command::{Caller, Engine, Frontend, Who};
use mentorops_core::values::Email;
use mentorops_worker::{Mailer, deliver_due_emails};

#[derive(Parser)]
#[command(
    name = "mentorops",
    version,
    about = "Run a mentoring program from Discord, Telegram or the console"
)]
struct Cli {
    /// Folder holding default.toml and the profile files.
    #[arg(
        long,
        global = true,
        default_value = "config",
        env = "MENTOROPS_CONFIG_DIR"
    )]
    config_dir: PathBuf,
    /// Profile: config/<profile>.toml overrides config/default.toml.
    #[arg(
        long,
        global = true,
        default_value = "local",
        env = "MENTOROPS_PROFILE"
    )]
    profile: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every configured front-end plus the worker, in one process.
    Run,
    /// The worker alone: runs the queued jobs (timers, email, cron).
    Worker,
    /// Type commands as a user (or, without --as, as a chat account that is not linked yet).
    Console {
        /// The email of the user to act as.
        #[arg(long = "as")]
        as_email: Option<String>,
    },
    /// Create or update the database schema.
    Migrate,
    /// Operator actions.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Load a sample organization, program, staff, mentors and mentees into an empty database.
    Demo {
        /// Then open the console as the demo's super admin (also when the demo is loaded already).
        #[arg(long)]
        console: bool,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create the first super admin and print their link code.
    Bootstrap {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        phone: String,
    },
    /// Issue a new link code for an existing user (their earlier unused codes stop working).
    Code {
        #[arg(long)]
        email: String,
    },
    /// Reactivate a deactivated user (the way back when the last super admin was locked out);
    /// recorded in the audit log as done from the command line.
    Reactivate {
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(default_log_level(&cli.command))
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = app::load_settings(&cli.config_dir, &cli.profile)?;
    let engine = std::sync::Arc::new(app::open(settings).await?);
    match cli.command {
        Command::Migrate => println!("The database schema is up to date."),
        Command::Run => app::run(&engine, true).await?,
        Command::Worker => app::run(&engine, false).await?,
        Command::Console { as_email } => console(&engine, as_email).await?,
        Command::Admin {
            action: AdminAction::Bootstrap { email, name, phone },
        } => {
            let (_, code) = bootstrap::bootstrap_admin(&engine, &name, &email, &phone)
                .await
                .map_err(|e| anyhow::anyhow!(e.user_message()))?;
            deliver(&engine).await?;
            println!("Super admin {email} created. Link code: {code}");
            println!(
                "Send /link {code} to the bot from your Discord or Telegram account, or run: mentorops console --as {email}"
            );
        }
        Command::Admin {
            action: AdminAction::Code { email },
        } => {
            let code = bootstrap::new_link_code(&engine, &email)
                .await
                .map_err(|e| anyhow::anyhow!(e.user_message()))?;
            println!(
                "New link code for {email}: {code} (valid {} days)",
                engine.settings().link_code_ttl().num_days()
            );
        }
        Command::Admin {
            action: AdminAction::Reactivate { email },
        } => {
            let done = bootstrap::reactivate(&engine, &email)
                .await
                .map_err(|e| anyhow::anyhow!(e.user_message()))?;
            println!("{done}.");
        }
        Command::Demo {
            console: open_console,
        } => {
            let admin = bootstrap::DEMO_ADMIN;
            let mut conn = engine.db().pool().acquire().await?;
            let loaded = mentorops_core::store::users::by_email(&mut conn, admin)
                .await?
                .is_some();
            drop(conn);
            if loaded && open_console {
                println!("The demo is loaded already.");
            } else {
                let log = bootstrap::demo(&engine)
                    .await
                    .map_err(|e| anyhow::anyhow!(e.user_message()))?;
                deliver(&engine).await?;
                for l in log {
                    println!("{l}");
                }
                println!(
                    "\nDemo loaded; emails are in {}.",
                    engine.settings().app.data_dir.join("mail").display()
                );
            }
            if open_console {
                console(&engine, Some(admin.to_string())).await?;
            } else {
                println!("Try: mentorops console --as {admin}");
            }
        }
    }
    engine.db().close().await;
    Ok(())
}

fn default_log_level(c: &Command) -> &'static str {
    match c {
        // The console and one-shot commands print their own output; keep logs for problems.
        Command::Console { .. }
        | Command::Demo { .. }
        | Command::Admin { .. }
        | Command::Migrate => "warn",
        Command::Run | Command::Worker => "info",
    }
}

async fn deliver(engine: &Engine) -> anyhow::Result<()> {
    let mailer = Mailer::from_settings(engine.settings())?;
    deliver_due_emails(
        engine.db(),
        &mailer,
        &engine.settings().smtp.from,
        engine.now(),
        engine.settings().smtp.retry_base_secs,
    )
    .await?;
    Ok(())
}

async fn console(engine: &Engine, as_email: Option<String>) -> anyhow::Result<()> {
    let who = match as_email {
        Some(raw) => {
            let email = Email::parse(&raw).map_err(|e| anyhow::anyhow!(e.user_message()))?;
            let mut conn = engine.db().pool().acquire().await?;
            let user = mentorops_core::store::users::by_email(&mut conn, email.as_str()).await?;
            match user {
                Some(u) => Who::User(u.id),
                None => bail!(
                    "no user has the email {email}: create one with `mentorops admin bootstrap` or `mentorops demo`"
                ),
            }
        }
        None => Who::Account {
            provider: "console".into(),
            account_id: whoami(),
            handle: None,
        },
    };
    let stdin_is_tty = std::io::stdin().is_terminal();
    let console = Console {
        engine,
        caller: Caller {
            frontend: Frontend::Console,
            who,
        },
        mailer: Mailer::from_settings(engine.settings())?,
        downloads: engine.settings().app.data_dir.join("exports"),
        prompt: stdin_is_tty,
    };
    if stdin_is_tty {
        println!("mentorops console — type /help, or quit to leave.");
    }
    let stdin = tokio::io::BufReader::new(tokio::io::stdin());
    console.run(stdin, &mut std::io::stdout()).await
}

/// The console's own chat account id when no user is chosen: the operating-system user.
fn whoami() -> String {
    std::env::var("USER").unwrap_or_else(|_| "local".into())
}
