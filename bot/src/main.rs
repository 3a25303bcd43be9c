//! The `mentorops` binary (docs/operations.md#processes): run, worker, console, migrate, admin,
//! demo.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::bail;
use clap::{Parser, Subcommand};
use mentorops_bot::app;
use mentorops_bot::console::Console;
use mentorops_core::bootstrap;
use mentorops_core::command::{Caller, Engine, Frontend, Who};
use mentorops_worker::{Mailer, deliver_due_emails};

#[derive(Parser)]
#[command(
    name = "mentorops",
    version,
    about = "Run a mentoring program from Discord, Telegram or the console"
)]
struct Cli {
    /// Folder of configuration files (default.toml, <profile>.toml) overriding the defaults
    /// built into the binary [default: ./config, when there is one].
    #[arg(long, global = true, env = "MENTOROPS_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    /// Profile: <config dir>/<profile>.toml, when it exists, overrides the defaults.
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

/// Where the configuration files are looked for when no folder is named.
const CONFIG_DIR: &str = "config";

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(default_log_level(&cli.command))
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line an operator can read (and a log collector keeps whole): the error and
            // its causes, no Debug dump. Set RUST_LOG=debug for more.
            let text = format!("{e:#}");
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("mentorops: {}", line.join(" "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config_dir = match cli.config_dir {
        // Named on purpose: a typo must not silently run on the defaults.
        Some(dir) if !dir.is_dir() => bail!(
            "the config folder {} (--config-dir / MENTOROPS_CONFIG_DIR) does not exist",
            dir.display()
        ),
        Some(dir) => dir,
        None => PathBuf::from(CONFIG_DIR),
    };
    let settings = app::load_settings(&config_dir, &cli.profile)?;
    let engine = std::sync::Arc::new(app::open(settings).await?);
    match cli.command {
        Command::Migrate => println!("The database schema is up to date."),
        Command::Run => app::run(&engine, true).await?,
        Command::Worker => app::run(&engine, false).await?,
        Command::Console { as_email } => console(&engine, as_email).await?,
        Command::Admin {
            action: AdminAction::Bootstrap { email, name, phone },
        } => {
            // Before anything is created: a bad smtp.url or smtp.from stops here, not after.
            let mailer = Mailer::from_settings(engine.settings())?;
            let (_, code) = bootstrap::bootstrap_admin(&engine, &name, &email, &phone)
                .await
                .map_err(operator_error)?;
            deliver(&engine, &mailer).await?;
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
                .map_err(operator_error)?;
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
                .map_err(operator_error)?;
            println!("{done}.");
        }
        Command::Demo {
            console: open_console,
        } => {
            let admin = bootstrap::DEMO_ADMIN;
            let loaded = bootstrap::demo_loaded(&engine)
                .await
                .map_err(operator_error)?;
            if loaded && open_console {
                println!("The demo is loaded already.");
            } else {
                let mailer = Mailer::from_settings(engine.settings())?;
                let log = bootstrap::demo(&engine).await.map_err(operator_error)?;
                deliver(&engine, &mailer).await?;
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

/// A core error as the operator at the command line reads it: what a chat user would be told,
/// except that an internal failure (the database) is shown as it is — the operator is the
/// one who can fix it.
fn operator_error(e: mentorops_core::Error) -> anyhow::Error {
    match e {
        mentorops_core::Error::Internal(_) => anyhow::anyhow!(e.to_string()),
        other => anyhow::anyhow!(other.user_message()),
    }
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

async fn deliver(engine: &Engine, mailer: &Mailer) -> anyhow::Result<()> {
    deliver_due_emails(
        engine.db(),
        mailer,
        &engine.settings().smtp.from,
        engine.now(),
        engine.settings().smtp.retry_base_secs,
    )
    .await?;
    Ok(())
}

async fn console(engine: &Engine, as_email: Option<String>) -> anyhow::Result<()> {
    let who = match as_email {
        Some(raw) => Who::User(
            bootstrap::console_user(engine, &raw)
                .await
                .map_err(operator_error)?,
        ),
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
