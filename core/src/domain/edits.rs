//! Staff acting on one person's record without changing a status: editing who they are —
//! name, email, phone, external ID, tags — with one audit entry per changed field, each
//! revertible by a compare-and-swap (docs/domain.md#editing-people); and a nudge, a reminder
//! sent now by chat and email (docs/domain.md#nudge).

use super::people::issue_link_code;
use super::work::{Audit, Work};
use crate::error::{Error, Result};
use crate::messages;
use crate::store::audit::AuditEntry;
use crate::store::users::{IdentityColumn, User};
use crate::store::{self};
use crate::text::{echo, listed};
use crate::values::{Email, ExternalId, FullName, Phone, Tag};

/// What the audit log calls a nudge.
pub const NUDGED: &str = "nudged";

/// How a tag's audit field starts: `tag:cohort`.
const TAG_FIELD: &str = "tag:";

/// One field an edit changes, as its audit entry names it (`name`, `email`, `phone`,
/// `external_id`, `tag:KEY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Name,
    Email,
    Phone,
    ExternalId,
    /// One tag, by its key.
    Tag(String),
}

impl Field {
    /// The audit entry's field.
    pub fn code(&self) -> String {
        match self {
            Self::Name => "name".into(),
            Self::Email => "email".into(),
            Self::Phone => "phone".into(),
            Self::ExternalId => "external_id".into(),
            Self::Tag(key) => format!("{TAG_FIELD}{key}"),
        }
    }

    /// The field an audit entry about a user records, when it is an edit's.
    pub fn of_entry(e: &AuditEntry) -> Option<Self> {
        if e.entity != "user" {
            return None;
        }
        match e.field.as_str() {
            "name" => Some(Self::Name),
            "email" => Some(Self::Email),
            "phone" => Some(Self::Phone),
            "external_id" => Some(Self::ExternalId),
            other => other
                .strip_prefix(TAG_FIELD)
                .filter(|k| !k.is_empty())
                .map(|k| Self::Tag(k.to_string())),
        }
    }

    /// How a reply names it.
    pub fn label(&self) -> String {
        match self {
            Self::Name => "name".into(),
            Self::Email => "email".into(),
            Self::Phone => "phone".into(),
            Self::ExternalId => "external ID".into(),
            Self::Tag(key) => format!("tag {key}"),
        }
    }

    pub fn is_tag(&self) -> bool {
        matches!(self, Self::Tag(_))
    }

    fn column(&self) -> Option<IdentityColumn> {
        match self {
            Self::Name => Some(IdentityColumn::FullName),
            Self::Email => Some(IdentityColumn::Email),
            Self::Phone => Some(IdentityColumn::Phone),
            Self::ExternalId => Some(IdentityColumn::ExternalId),
            Self::Tag(_) => None,
        }
    }
}

/// One change to a person's tags: `+key=value` sets (or changes) a tag, `-key` removes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagEdit {
    Set(Tag),
    Remove(String),
}

impl TagEdit {
    pub fn key(&self) -> &str {
        match self {
            Self::Set(t) => &t.key,
            Self::Remove(k) => k,
        }
    }

    /// `+cohort=2027,-lang`: comma-separated; `key=value` without `+` sets too. A key given
    /// twice is refused, as is a list with nothing in it. `name` is the argument's name.
    pub fn parse_list(name: &str, raw: &str) -> Result<Vec<Self>> {
        let mut edits: Vec<Self> = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let edit = if let Some(key) = part.strip_prefix('-') {
                let key = key.trim().to_lowercase();
                if key.is_empty()
                    || !key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(Error::input(format!(
                        "{name}: '{}' is not -key: write the key of the tag to remove, like -cohort (keys use a-z, 0-9, _ and -)",
                        echo(part)
                    )));
                }
                Self::Remove(key)
            } else {
                Self::Set(Tag::parse(part.strip_prefix('+').unwrap_or(part))?)
            };
            if edits.iter().any(|e| e.key() == edit.key()) {
                return Err(Error::input(format!(
                    "{name}: tag key '{}' is given twice: keep one",
                    echo(edit.key())
                )));
            }
            edits.push(edit);
        }
        if edits.is_empty() {
            return Err(Error::input(format!(
                "{name}: give +key=value to set a tag or -key to remove one, like +cohort=2027,-lang"
            )));
        }
        Ok(edits)
    }
}

/// What `/user_edit` was given: the fields to change (each already parsed), none of them
/// checked against the database yet.
#[derive(Debug, Default)]
pub struct Edits {
    pub name: Option<FullName>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub external_id: Option<ExternalId>,
    pub tags: Vec<TagEdit>,
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.external_id.is_none()
            && self.tags.is_empty()
    }
}

/// One field changed, and the audit entry that records it.
#[derive(Debug, Clone)]
pub struct Change {
    pub field: Field,
    pub old: Option<String>,
    pub new: Option<String>,
    pub audit: i64,
}

impl Change {
    /// "email ana@example.org → ana.lima@example.org", "tag cohort=2027 added".
    pub fn describe(&self) -> String {
        let shown = |v: &Option<String>| v.as_deref().map(echo).unwrap_or_else(|| "-".into());
        match (&self.field, &self.old, &self.new) {
            (Field::Tag(key), None, Some(v)) => format!("tag {key}={} added", echo(v)),
            (Field::Tag(key), Some(v), None) => format!("tag {key}={} removed", echo(v)),
            (field, old, new) => format!("{} {} → {}", field.label(), shown(old), shown(new)),
        }
    }
}

/// What an edit did.
#[derive(Debug)]
pub struct Edited {
    /// The person as they are now.
    pub user: User,
    pub changes: Vec<Change>,
    /// The fields given with the value they already had.
    pub unchanged: Vec<String>,
    /// The address a fresh link code was mailed to, when the email changed (none for a
    /// deactivated person: nothing is sent to them).
    pub code_mailed_to: Option<String>,
}

/// Changes `user`'s identity fields and tags (docs/domain.md#editing-people): each value is
/// checked as when a person is added — an email, phone or external ID someone else holds is
/// refused, naming them; the person's own current value is no conflict, and a field given
/// with the value it has is left alone —, then each changed field is set by a compare-and-swap
/// and gets its own audit entry. A changed email gets a fresh link code mailed to the new
/// address (their earlier unused codes stop working); their chat links stay.
pub async fn edit_person(
    w: &mut Work<'_>,
    user: &User,
    e: Edits,
    reason: Option<&str>,
) -> Result<Edited> {
    if e.is_empty() {
        return Err(Error::input(
            "say what to change: name:, email:, phone:, external_id: or tags:",
        ));
    }
    let mut planned: Vec<(Field, Option<String>, Option<String>)> = Vec::new();
    let mut unchanged = Vec::new();
    let mut consider = |field: Field, old: Option<&str>, new: Option<&str>| {
        if old == new {
            unchanged.push(field.label());
        } else {
            planned.push((field, old.map(str::to_string), new.map(str::to_string)));
        }
    };
    if let Some(name) = &e.name {
        consider(Field::Name, Some(&user.full_name), Some(name.as_str()));
    }
    if let Some(email) = &e.email {
        consider(Field::Email, Some(&user.email), Some(email.as_str()));
    }
    if let Some(phone) = &e.phone {
        consider(Field::Phone, user.phone.as_deref(), Some(phone.as_str()));
    }
    if let Some(ext) = &e.external_id {
        consider(
            Field::ExternalId,
            user.external_id.as_deref(),
            Some(ext.as_str()),
        );
    }
    let tags = store::users::tags(w.c(), user.id).await?;
    let tag_value = |key: &str| tags.iter().find(|t| t.key == key).map(|t| t.value.as_str());
    for edit in &e.tags {
        let key = edit.key().to_string();
        match edit {
            TagEdit::Set(t) => consider(Field::Tag(key), tag_value(&t.key), Some(&t.value)),
            TagEdit::Remove(k) => match tag_value(k) {
                Some(old) => consider(Field::Tag(key), Some(old), None),
                None => {
                    return Err(Error::conflict(format!(
                        "{} has no tag {}: nothing to remove ({})",
                        user.full_name,
                        echo(k),
                        if tags.is_empty() {
                            "they have no tags".to_string()
                        } else {
                            format!(
                                "their tags: {}",
                                listed(&tags.iter().map(Tag::to_string).collect::<Vec<_>>())
                            )
                        }
                    )));
                }
            },
        }
    }
    if planned.is_empty() {
        return Err(Error::conflict(format!(
            "nothing to change: {} already has that {}",
            user.full_name,
            unchanged.join(", ")
        )));
    }
    for (field, _, new) in &planned {
        if let Some(new) = new {
            refuse_taken(w, user.id, field, new).await?;
        }
    }
    let mut changes = Vec::new();
    for (field, old, new) in planned {
        set(w, user, &field, old.as_deref(), new.as_deref()).await?;
        let audit = w
            .audit(
                Audit::user(user.id, &field.code())
                    .from_opt(old.clone())
                    .to_opt(new.clone())
                    .because(reason),
            )
            .await?;
        changes.push(Change {
            field,
            old,
            new,
            audit,
        });
    }
    let after = reread(w, user.id).await?;
    let code_mailed_to = if changes.iter().any(|c| c.field == Field::Email) {
        mail_new_code(w, &after).await?
    } else {
        None
    };
    Ok(Edited {
        user: after,
        changes,
        unchanged,
        code_mailed_to,
    })
}

/// Undoes one edit recorded in `entry` (docs/domain.md#revert): only while the field still
/// holds the value that edit gave it (a compare-and-swap), and only if no one else holds the
/// old value by now. Returns the change made (its own audit entry) and, for an email, the
/// address a fresh link code went to.
pub async fn revert_edit(
    w: &mut Work<'_>,
    user: &User,
    entry: &AuditEntry,
    reason: Option<&str>,
) -> Result<(Change, Option<String>)> {
    let field = Field::of_entry(entry)
        .ok_or_else(|| Error::Internal(format!("entry #{} is not an edit", entry.id)))?;
    let current = current_value(w, user, &field).await?;
    if current != entry.new_value {
        return Err(Error::conflict(format!(
            "{}'s {} has changed since entry #{} (it is {} now): revert the later change first (see /history)",
            user.full_name,
            field.label(),
            entry.id,
            current
                .as_deref()
                .map(|v| format!("'{}'", echo(v)))
                .unwrap_or_else(|| "not set".into())
        )));
    }
    let (old, new) = (entry.old_value.clone(), entry.new_value.clone());
    if old.is_none() && !field.is_tag() {
        return Err(Error::conflict(format!(
            "entry #{} gave {} a {} where there was none: change it with /user_edit instead",
            entry.id,
            user.full_name,
            field.label()
        )));
    }
    if let Some(old) = &old {
        refuse_taken(w, user.id, &field, old).await?;
    }
    set(w, user, &field, new.as_deref(), old.as_deref()).await?;
    let audit = w
        .audit(
            Audit::user(user.id, &field.code())
                .from_opt(new.clone())
                .to_opt(old.clone())
                .because(reason),
        )
        .await?;
    let mailed = if field == Field::Email {
        let after = reread(w, user.id).await?;
        mail_new_code(w, &after).await?
    } else {
        None
    };
    Ok((
        Change {
            field,
            old: new,
            new: old,
            audit,
        },
        mailed,
    ))
}

/// What a nudge sent.
#[derive(Debug, Clone, Copy)]
pub struct Nudged {
    /// Its audit entry (also in the messages' idempotency key, so every nudge goes out).
    pub audit: i64,
    /// How many chat accounts it went to (besides the email).
    pub chats: usize,
}

/// A reminder now (docs/domain.md#nudge), from `from` (who sends it, by name), with their
/// words when given: to every chat account the person linked and by email, audited (`nudged`,
/// the words as its reason). Refused for a deactivated person — nothing is sent to them — and
/// for someone with no persona (staff only).
pub async fn nudge(
    w: &mut Work<'_>,
    user: &User,
    from: &str,
    message: Option<&str>,
) -> Result<Nudged> {
    if user.status.is_deactivated() {
        return Err(Error::conflict(format!(
            "{} is deactivated ({}): nothing is sent to a deactivated person. To reach them, reactivate them first with /reactivate",
            user.full_name, user.status
        )));
    }
    if store::users::personas_of(w.c(), user.id).await?.is_empty() {
        return Err(Error::conflict(format!(
            "{} is not a mentor or mentee (they have no persona): /nudge reminds participants",
            user.full_name
        )));
    }
    let chats = store::links::links_of_user(w.c(), user.id).await?.len();
    let sent = if chats > 0 { "chat and email" } else { "email" };
    let audit = w
        .audit(Audit::user(user.id, NUDGED).to(sent).because(message))
        .await?;
    let key = format!("nudge:{}:{audit}", user.id);
    w.chat(
        user,
        "nudge",
        &key,
        messages::nudge_chat(from, message),
        Vec::new(),
    )
    .await?;
    w.email(
        user,
        "nudge",
        key,
        messages::nudge(&user.full_name, from, message),
    )
    .await?;
    Ok(Nudged { audit, chats })
}

/// Refuses `value` for `field` when someone other than `user_id` holds it, naming them (as
/// `people::check_unique` does for a new person).
async fn refuse_taken(w: &mut Work<'_>, user_id: i64, field: &Field, value: &str) -> Result<()> {
    let holder = match field {
        Field::Email => store::users::by_email(w.c(), value).await?,
        Field::Phone => store::users::by_phone(w.c(), value).await?,
        Field::ExternalId => store::users::by_external_id(w.c(), value).await?,
        Field::Name | Field::Tag(_) => None,
    };
    let Some(u) = holder.filter(|u| u.id != user_id) else {
        return Ok(());
    };
    Err(Error::conflict(match field {
        Field::Email => format!(
            "{value} is already used by {} (#{}): each person needs their own email address",
            u.full_name, u.id
        ),
        Field::Phone => format!(
            "phone {value} is already used by {} (#{}): each person needs their own number",
            u.label(),
            u.id
        ),
        _ => format!(
            "external ID {value} is already used by {} (#{}): each person needs their own",
            u.label(),
            u.id
        ),
    }))
}

/// Sets `field` from `old` to `new` by a compare-and-swap; a conflict when it no longer holds
/// `old` (someone changed it meanwhile).
async fn set(
    w: &mut Work<'_>,
    user: &User,
    field: &Field,
    old: Option<&str>,
    new: Option<&str>,
) -> Result<()> {
    let swapped = match (field, field.column(), new) {
        (Field::Tag(key), _, _) => store::users::swap_tag(w.c(), user.id, key, old, new).await?,
        (_, Some(column), Some(new)) => {
            store::users::swap_identity(w.c(), user.id, column, old, new).await?
        }
        (_, _, _) => {
            return Err(Error::Internal(format!(
                "the {} cannot be emptied",
                field.label()
            )));
        }
    };
    if swapped {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "{}'s {} was changed by someone else a moment ago: look again (/user_show) and retry",
            user.full_name,
            field.label()
        )))
    }
}

async fn current_value(w: &mut Work<'_>, user: &User, field: &Field) -> Result<Option<String>> {
    let now = reread(w, user.id).await?;
    Ok(match field {
        Field::Name => Some(now.full_name),
        Field::Email => Some(now.email),
        Field::Phone => now.phone,
        Field::ExternalId => now.external_id,
        Field::Tag(key) => store::users::tags(w.c(), user.id)
            .await?
            .into_iter()
            .find(|t| &t.key == key)
            .map(|t| t.value),
    })
}

async fn reread(w: &mut Work<'_>, id: i64) -> Result<User> {
    store::users::user(w.c(), id)
        .await?
        .ok_or_else(|| Error::Internal(format!("user #{id} vanished during an edit")))
}

/// A fresh link code for `user`, mailed to their (new) address; None when they are
/// deactivated (the code is made all the same, so the ones sent to the old address stop
/// working).
async fn mail_new_code(w: &mut Work<'_>, user: &User) -> Result<Option<String>> {
    let code = issue_link_code(w, user).await?;
    if user.status.is_deactivated() {
        return Ok(None);
    }
    let days = w.settings().link_code_ttl().num_days().max(1);
    let mail = messages::email_changed(&user.full_name, &user.email, code.as_str(), days);
    w.email(
        user,
        "email_changed",
        format!("email_changed:{}", code.as_str()),
        mail,
    )
    .await?;
    Ok(Some(user.email.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_edits_set_and_remove_and_refuse_a_key_twice() {
        let edits = TagEdit::parse_list("tags", "+Cohort=2027, -lang ,level=2").unwrap_or_default();
        assert_eq!(
            edits,
            vec![
                TagEdit::Set(Tag {
                    key: "cohort".into(),
                    value: "2027".into()
                }),
                TagEdit::Remove("lang".into()),
                TagEdit::Set(Tag {
                    key: "level".into(),
                    value: "2".into()
                }),
            ]
        );
        for bad in ["+cohort=1,-cohort", "-", "- x y", ",", "+cohort"] {
            assert!(TagEdit::parse_list("tags", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn edit_fields_read_back_from_their_audit_codes() {
        for f in [
            Field::Name,
            Field::Email,
            Field::Phone,
            Field::ExternalId,
            Field::Tag("cohort".into()),
        ] {
            let e = AuditEntry {
                id: 1,
                at: chrono::DateTime::UNIX_EPOCH,
                actor_user_id: None,
                frontend: "console".into(),
                subject_user_id: Some(1),
                entity: "user".into(),
                entity_id: Some(1),
                field: f.code(),
                old_value: None,
                new_value: None,
                reason: None,
                reverts: None,
                reverted_by: None,
            };
            assert_eq!(Field::of_entry(&e), Some(f));
        }
    }
}
