//! The registry as Discord application commands, and a received slash command back as the
//! text line every front-end feeds the core's one parser: `/name key:value key:"quoted value"`.

use anyhow::Context;
use mentorops_core::command::COMMANDS;
use mentorops_core::command::spec::{ArgKind, ArgSpec, CommandSpec};
use mentorops_core::command::{quote, suggests};
use mentorops_core::reply::clip;
use serenity::builder::{CreateCommand, CreateCommandOption};
use serenity::model::application::{CommandDataOption, CommandDataOptionValue, CommandOptionType};

use super::rest::Rest;

/// Discord's limits on application commands.
pub const MAX_NAME: usize = 32;
pub const MAX_DESCRIPTION: usize = 100;
pub const MAX_CHOICES: usize = 25;
pub const MAX_OPTIONS: usize = 25;

/// The Discord option type that carries an argument of this kind.
pub fn option_type(kind: ArgKind) -> CommandOptionType {
    match kind {
        ArgKind::Number | ArgKind::Offer => CommandOptionType::Integer,
        ArgKind::YesNo => CommandOptionType::Boolean,
        ArgKind::Attachment => CommandOptionType::Attachment,
        _ => CommandOptionType::String,
    }
}

/// Whether Discord asks us for suggestions while the argument is typed: where the core has some.
pub fn autocompletes(spec: &CommandSpec, arg: &ArgSpec) -> bool {
    suggests(spec, arg).is_some()
}

fn option(spec: &CommandSpec, arg: &ArgSpec) -> CreateCommandOption {
    let mut o = CreateCommandOption::new(
        option_type(arg.kind),
        clip(arg.name, MAX_NAME),
        clip(arg.about, MAX_DESCRIPTION),
    )
    .required(arg.required);
    if let ArgKind::Choice(list) = arg.kind {
        for c in list.iter().take(MAX_CHOICES) {
            o = o.add_string_choice(*c, *c);
        }
    }
    if autocompletes(spec, arg) {
        o = o.set_autocomplete(true);
    }
    o
}

/// The arguments in the order Discord wants them: the required ones first (the line names
/// every value, so the order does not matter to the parser).
pub fn discord_order(spec: &CommandSpec) -> Vec<&'static ArgSpec> {
    let (mut required, optional): (Vec<_>, Vec<_>) = spec.args.iter().partition(|a| a.required);
    required.extend(optional);
    required
}

/// One application command for a registry command.
pub fn application_command(spec: &CommandSpec) -> CreateCommand {
    CreateCommand::new(spec.name)
        .description(clip(spec.about, MAX_DESCRIPTION))
        .set_options(
            discord_order(spec)
                .into_iter()
                .take(MAX_OPTIONS)
                .map(|a| option(spec, a))
                .collect(),
        )
}

/// Every registry command, for `PUT /applications/{id}/commands` (global) or a guild.
pub fn application_commands() -> Vec<CreateCommand> {
    COMMANDS.iter().copied().map(application_command).collect()
}

/// Publishes every registry command as the application's commands — globally (they reach every
/// server and DM within minutes), or in one server when `guild` is given (at once: for trying
/// things out). Discord replaces the old set with this one, so a renamed or removed command
/// disappears. Returns how many Discord holds now.
pub async fn register(
    rest: &Rest,
    application_id: u64,
    guild: Option<u64>,
) -> anyhow::Result<usize> {
    if application_id == 0 {
        anyhow::bail!("discord.application_id (MENTOROPS__DISCORD__APPLICATION_ID) must not be 0");
    }
    rest.put_commands(application_id, guild, &application_commands())
        .await
        .context("Discord refused the application commands")
}

/// A value Discord sent for an option, as far as the line needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    /// An uploaded file, by its file name (the bytes travel next to the line).
    File(String),
    /// A user picked with Discord's user picker: written as a `<@id>` mention.
    User(u64),
}

impl OptionValue {
    fn text(&self) -> String {
        match self {
            Self::Text(s) | Self::File(s) => s.clone(),
            Self::Integer(n) => n.to_string(),
            Self::Number(x) => x.to_string(),
            Self::Boolean(b) => if *b { "yes" } else { "no" }.to_string(),
            Self::User(id) => format!("<@{id}>"),
        }
    }
}

/// `/name key:value …` for a received command: every value named and quoted as needed, so
/// `core::command::parse` reads back exactly the values Discord sent.
pub fn command_line(name: &str, options: &[(String, OptionValue)]) -> String {
    let mut line = format!("/{name}");
    for (key, value) in options {
        line.push(' ');
        line.push_str(key);
        line.push(':');
        line.push_str(&quote(&value.text()));
    }
    line
}

/// The options of a received command in the neutral form of [`command_line`]. Attachments
/// are named by their file name from `file_name_of`; options of other kinds (channels, roles:
/// the registry declares none) are dropped, so the parser reports what is missing.
pub fn options_of(
    options: &[CommandDataOption],
    file_name_of: impl Fn(&serenity::model::id::AttachmentId) -> Option<String>,
) -> Vec<(String, OptionValue)> {
    options
        .iter()
        .filter_map(|o| {
            let value = match &o.value {
                CommandDataOptionValue::String(s) => OptionValue::Text(s.clone()),
                CommandDataOptionValue::Autocomplete { value, .. } => {
                    OptionValue::Text(value.clone())
                }
                CommandDataOptionValue::Integer(n) => OptionValue::Integer(*n),
                CommandDataOptionValue::Number(x) => OptionValue::Number(*x),
                CommandDataOptionValue::Boolean(b) => OptionValue::Boolean(*b),
                CommandDataOptionValue::Attachment(id) => OptionValue::File(file_name_of(id)?),
                CommandDataOptionValue::User(id) => OptionValue::User(id.get()),
                _ => return None,
            };
            Some((o.name.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mentorops_core::command::parse;
    use serde_json::Value;

    fn json(c: &CreateCommand) -> Value {
        serde_json::to_value(c).unwrap_or_default()
    }

    #[test]
    fn every_registry_command_is_an_application_command_with_its_options() {
        let commands = application_commands();
        assert_eq!(commands.len(), COMMANDS.len());
        for (spec, command) in COMMANDS.iter().zip(&commands) {
            let j = json(command);
            assert_eq!(j["name"], spec.name);
            let about = j["description"].as_str().unwrap_or_default();
            assert!(!about.is_empty() && about.chars().count() <= MAX_DESCRIPTION);
            assert_eq!(about, clip(spec.about, MAX_DESCRIPTION));
            let options = j["options"].as_array().cloned().unwrap_or_default();
            assert!(options.len() <= MAX_OPTIONS, "{}", spec.name);
            assert_eq!(options.len(), spec.args.len(), "{}", spec.name);
            // Discord refuses a required option after an optional one.
            let required: Vec<bool> = options
                .iter()
                .map(|o| o["required"].as_bool().unwrap_or(false))
                .collect();
            assert!(required.windows(2).all(|w| w[0] || !w[1]), "{}", spec.name);
            for o in &options {
                let name = o["name"].as_str().unwrap_or_default();
                let arg = spec.arg(name);
                assert!(
                    arg.is_some(),
                    "{}: option {name} not in the registry",
                    spec.name
                );
                let Some(arg) = arg else { continue };
                assert!(name.len() <= MAX_NAME);
                assert_eq!(o["required"].as_bool().unwrap_or(false), arg.required);
                let d = o["description"].as_str().unwrap_or_default();
                assert!(!d.is_empty() && d.chars().count() <= MAX_DESCRIPTION);
                let kind = o["type"].as_u64().unwrap_or_default();
                let want = match arg.kind {
                    ArgKind::Number | ArgKind::Offer => 4,
                    ArgKind::YesNo => 5,
                    ArgKind::Attachment => 11,
                    _ => 3,
                };
                assert_eq!(kind, want, "{}:{name}", spec.name);
                assert_eq!(
                    o["autocomplete"].as_bool().unwrap_or(false),
                    autocompletes(spec, arg),
                    "{}:{name}",
                    spec.name
                );
                let choices: Vec<&str> = o["choices"]
                    .as_array()
                    .map(|cs| cs.iter().filter_map(|c| c["value"].as_str()).collect())
                    .unwrap_or_default();
                match arg.kind {
                    ArgKind::Choice(list) => {
                        assert!(list.len() <= MAX_CHOICES);
                        assert_eq!(choices, list);
                    }
                    _ => assert!(choices.is_empty()),
                }
            }
        }
    }

    /// A sample value of the kind an argument takes, awkward on purpose for text.
    fn sample(arg: &ArgSpec, i: usize) -> OptionValue {
        match arg.kind {
            ArgKind::Number | ArgKind::Offer => OptionValue::Integer(7 + i as i64),
            ArgKind::YesNo => OptionValue::Boolean(i.is_multiple_of(2)),
            ArgKind::Attachment => OptionValue::File(format!("people {i}.csv")),
            ArgKind::Choice(list) => OptionValue::Text(list[i % list.len()].to_string()),
            _ => OptionValue::Text(match i % 4 {
                0 => "Ana \"the\" Lima".to_string(),
                1 => "key:value".to_string(),
                2 => "back\\slash  and   spaces".to_string(),
                _ => format!("plain{i}"),
            }),
        }
    }

    #[test]
    fn options_to_line_to_parser_round_trip() {
        for spec in COMMANDS {
            for variant in 0..4 {
                let options: Vec<(String, OptionValue)> = discord_order(spec)
                    .into_iter()
                    .enumerate()
                    .filter(|(i, a)| a.required || (i + variant).is_multiple_of(2))
                    .map(|(i, a)| (a.name.to_string(), sample(a, i + variant)))
                    .collect();
                let line = command_line(spec.name, &options);
                let inv = match parse(&line) {
                    Ok(inv) => inv,
                    Err(e) => panic!("{line}: {e}"),
                };
                assert_eq!(inv.spec.name, spec.name);
                assert_eq!(inv.args.len(), options.len(), "{line}");
                for (name, value) in &options {
                    assert_eq!(inv.get(name), Some(value.text().as_str()), "{line}");
                }
            }
        }
    }

    #[test]
    fn values_are_written_the_way_the_core_reads_them() {
        assert_eq!(
            command_line(
                "status",
                &[
                    ("person".into(), OptionValue::Text("ana@example.org".into())),
                    ("status".into(), OptionValue::Text("SI".into())),
                    ("reason".into(), OptionValue::Text("said so".into())),
                ]
            ),
            "/status person:ana@example.org status:SI reason:\"said so\""
        );
        assert_eq!(OptionValue::Boolean(true).text(), "yes");
        assert_eq!(OptionValue::User(42).text(), "<@42>");
        assert_eq!(clip("abcdef", 4), "abc…");
    }
}
