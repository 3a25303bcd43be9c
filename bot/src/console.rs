//! The console front-end: commands from a terminal or a pipe, replies printed. Messages the
//! command queued for other people are printed too, marked with their recipient, and emails
//! are delivered (as `.eml` files by default) right after each command.

use std::io::Write;
use std::path::{Path, PathBuf};

use mentorops_core::command::spec::ArgKind;
use mentorops_core::command::{Caller, Engine, parse};
use mentorops_core::reply::{Attachment, Reply};
use mentorops_core::store::outbox::NewMessage;
use mentorops_worker::{Mailer, deliver_due_emails};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What the console says to a line that is not UTF-8 (a terminal in another encoding, a binary
/// file piped in by mistake) before it reads on.
pub const NOT_UTF8: &str = "that line is not valid UTF-8 text: type it again";

pub struct Console<'a> {
    pub engine: &'a Engine,
    pub caller: Caller,
    pub mailer: Mailer,
    /// Where attachments the bot sends (exports) are saved.
    pub downloads: PathBuf,
    /// Print a prompt (when a person types at a terminal).
    pub prompt: bool,
}

impl Console<'_> {
    /// Reads commands until end of input or `quit`. A line that is not UTF-8 is refused on its
    /// own and reading goes on: lines are read as bytes, since a text reader fails for good at
    /// the first bad one (and one bad line would end a whole script).
    pub async fn run<R: AsyncBufRead + Unpin, W: Write>(
        &self,
        mut input: R,
        out: &mut W,
    ) -> anyhow::Result<()> {
        let mut bytes = Vec::new();
        loop {
            if self.prompt {
                write!(out, "> ")?;
                out.flush()?;
            }
            bytes.clear();
            if input.read_until(b'\n', &mut bytes).await? == 0 {
                break;
            }
            let Ok(line) = std::str::from_utf8(&bytes) else {
                writeln!(out, "✗ {NOT_UTF8}")?;
                continue;
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if matches!(line, "quit" | "exit" | "/quit" | "/exit") {
                break;
            }
            self.one(line, out).await?;
        }
        Ok(())
    }

    /// Runs one command line and prints everything it caused.
    pub async fn one<W: Write>(&self, line: &str, out: &mut W) -> anyhow::Result<()> {
        let outcome = match read_attachments(line) {
            Ok(attachments) => {
                self.engine
                    .handle_text(&self.caller, line, attachments)
                    .await
            }
            Err(message) => {
                writeln!(out, "✗ {message}")?;
                return Ok(());
            }
        };
        match &outcome.result {
            Ok(reply) => self.print_reply(reply, out)?,
            Err(e) => writeln!(out, "✗ {}", e.user_message())?,
        }
        for m in &outcome.queued {
            print_queued(m, out)?;
        }
        // No worker here (docs/operations.md#console): after each command, the timers that are due
        // (offer expiry, reminders), then email.
        let report = mentorops_core::timers::run_due(self.engine).await?;
        if report != Default::default() {
            writeln!(
                out,
                "  ⏱ {} offer(s) expired, {} offer reminder(s), {} session reminder(s)",
                report.offers_expired, report.offer_reminders, report.session_reminders
            )?;
        }
        let from = self.engine.settings().smtp.from.clone();
        for d in deliver_due_emails(
            self.engine.db(),
            &self.mailer,
            &from,
            self.engine.now(),
            self.engine.settings().smtp.retry_base_secs,
        )
        .await?
        {
            match (&d.file, &d.refused) {
                (Some(f), _) => writeln!(
                    out,
                    "  ✉ email #{} to {} written to {}",
                    d.outbox_id,
                    d.recipient,
                    f.display()
                )?,
                (None, Some(why)) => writeln!(
                    out,
                    "  ✉ email #{} to {} not sent: {why}",
                    d.outbox_id, d.recipient
                )?,
                (None, None) => {
                    writeln!(out, "  ✉ email #{} to {} sent", d.outbox_id, d.recipient)?
                }
            }
        }
        Ok(())
    }

    fn print_reply<W: Write>(&self, reply: &Reply, out: &mut W) -> anyhow::Result<()> {
        writeln!(out, "{}", reply.text)?;
        for b in &reply.buttons {
            writeln!(out, "  [{}] → {}", b.label, b.command)?;
        }
        for a in &reply.attachments {
            let path = save(&self.downloads, a)?;
            writeln!(out, "  📎 {} saved to {}", a.file_name, path.display())?;
        }
        Ok(())
    }
}

fn print_queued<W: Write>(m: &NewMessage, out: &mut W) -> std::io::Result<()> {
    if m.channel == mentorops_core::store::outbox::EMAIL {
        writeln!(out, "  → email to {}: {}", m.recipient, m.subject)
    } else {
        let platform = m.channel.trim_start_matches("chat:");
        writeln!(
            out,
            "  → {platform} message to {}: {}",
            m.recipient,
            m.body_text.lines().next().unwrap_or_default()
        )?;
        for b in &m.buttons {
            writeln!(out, "      [{}] → {}", b.label, b.command)?;
        }
        Ok(())
    }
}

/// On the console a file argument is a path: read it into an attachment, as a chat upload would be.
fn read_attachments(line: &str) -> Result<Vec<Attachment>, String> {
    let Ok(inv) = parse(line) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for arg in inv
        .spec
        .args
        .iter()
        .filter(|a| a.kind == ArgKind::Attachment)
    {
        if let Some(path) = inv.get(arg.name) {
            let bytes = std::fs::read(path)
                .map_err(|e| format!("cannot read {path}: {e} — give the path of the file"))?;
            let file_name = Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.push(Attachment {
                file_name,
                media_type: "text/csv".into(),
                bytes,
            });
        }
    }
    Ok(files)
}

fn save(dir: &Path, a: &Attachment) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    // The name comes from the core, but keep it to one plain file name regardless.
    let name: String = a
        .file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, &a.bytes)?;
    Ok(path)
}
