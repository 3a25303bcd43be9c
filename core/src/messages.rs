//! The words of every message mentorops sends (SPEC §8), plain text and HTML from the same
//! parts. Kept apart from the commands so wording changes touch one file.

/// An email ready for the outbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Builds both bodies from paragraphs; `code` paragraphs are shown large in HTML.
fn mail(subject: String, greeting: &str, paragraphs: &[Para<'_>]) -> Mail {
    let mut text = format!("{greeting}\n\n");
    let mut html = format!("<p>{}</p>\n", escape(greeting));
    for p in paragraphs {
        match p {
            Para::Text(t) => {
                text.push_str(t);
                text.push_str("\n\n");
                html.push_str(&format!("<p>{}</p>\n", escape(t)));
            }
            Para::Code(c) => {
                text.push_str(&format!("    {c}\n\n"));
                html.push_str(&format!(
                    "<p style=\"font-size:1.6em;letter-spacing:0.2em;font-family:monospace\"><b>{}</b></p>\n",
                    escape(c)
                ));
            }
        }
    }
    text.push_str("— mentorops\n");
    html.push_str("<p>— mentorops</p>\n");
    Mail {
        subject,
        text,
        html,
    }
}

enum Para<'a> {
    Text(&'a str),
    Code(&'a str),
}

/// Welcome to a new mentor, mentee or staff member, with their link code (SPEC §8).
pub fn welcome(name: &str, role: &str, program: Option<&str>, code: &str, valid_days: i64) -> Mail {
    let joined = match program {
        Some(p) => format!("You have been added to {p} as a {role}."),
        None => format!("You have been added to the mentoring program as a {role}."),
    };
    let how = format!(
        "To use mentorops from Discord or Telegram, open a direct chat with the program's bot and send /link {code}. \
         The code works once and for {valid_days} days."
    );
    mail(
        "Welcome to the mentoring program".to_string(),
        &format!("Hello {name},"),
        &[
            Para::Text(&joined),
            Para::Text("Your link code:"),
            Para::Code(code),
            Para::Text(&how),
            Para::Text("Then send /me to see where you are, and /help to see what you can do."),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_carries_the_code_in_both_bodies_and_escapes_html() {
        let m = welcome("Ana <b>", "mentee", Some("Org/Spring"), "K7PQ2MZX", 7);
        assert!(m.text.contains("/link K7PQ2MZX") && m.html.contains("K7PQ2MZX"));
        assert!(m.html.contains("Ana &lt;b&gt;") && !m.html.contains("Ana <b>"));
    }
}
