//! Changing who a person is on record (`/user_edit`: name, email, phone, external ID, tags;
//! reverted through `/revert`) and reminding a participant now (`/nudge`).

use super::prelude::*;
use crate::command::args::TagEdits;
use crate::domain::edits::{Edits, Field, NUDGED};
use crate::domain::{self};
use crate::store::audit::AuditEntry;
use crate::store::users::User;
use crate::store::{self};
use crate::values::{Email, ExternalId, FullName, Phone};

command! {
    pub struct UserEdit {
        name: "user_edit",
        about: "Change a person's name, email, phone, external ID or tags (each change can be reverted)",
        access: Access::Staff(Capability::AddUsers),
        example: "/user_edit ana@example.org email:ana.lima@example.org",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            name: Option<FullName> = opt(K::Name, "the new full name, in quotes"),
            email: Option<Email> = opt(K::Email, "the new email address (a new link code is mailed there)"),
            phone: Option<String> = opt(K::Phone, "the new phone, international form"),
            external_id: Option<ExternalId> = opt(K::Line, "the new external ID (the program's own)"),
            tags: Option<TagEdits> = opt(K::Tags, "+key=value sets, -key removes, like +cohort=2027,-lang (super admin)"),
            reason: Option<Reason> = opt(K::Text, ABOUT_REASON),
        }
    }
}

/// docs/domain.md#editing-people: the values are read as `/user_add` reads them, each changed
/// field is one audit entry, and the reply names each with the `/revert` that undoes it.
pub(crate) async fn user_edit(ctx: &mut Ctx<'_>, a: UserEdit) -> Result<Reply> {
    if a.name.is_none()
        && a.email.is_none()
        && a.phone.is_none()
        && a.external_id.is_none()
        && a.tags.is_none()
    {
        return Err(Error::input(
            "say what to change: give at least one of name:, email:, phone:, external_id: or tags:, like /user_edit ana@example.org email:ana.lima@example.org",
        ));
    }
    if a.tags.is_some() && !ctx.actor.holds(Capability::EditTags) {
        return Err(Error::forbidden(
            "identifiers (tags) are set by a super admin: leave tags out, or ask one to change them",
        ));
    }
    let user = ctx.find_user(&a.person, Capability::AddUsers).await?;
    let region = ctx.settings().phone_region().map(str::to_string);
    let phone = a
        .phone
        .as_deref()
        .map(|p| Phone::parse(p, region.as_deref()))
        .transpose()?;
    if a.email.as_ref().is_some_and(|e| e.as_str() != user.email) {
        refuse_staff_email(ctx, &user).await?;
    }
    let phone_follows = phone.is_some()
        && a.external_id.is_none()
        && user.phone.is_some()
        && user.external_id == user.phone;
    let edited = domain::edits::edit_person(
        ctx,
        &user,
        Edits {
            name: a.name,
            email: a.email,
            phone,
            external_id: a.external_id,
            tags: a.tags.map(|t| t.0).unwrap_or_default(),
        },
        a.reason.as_deref(),
    )
    .await?;
    let mut text = format!("Changed {} (#{}):", edited.user.full_name, edited.user.id);
    for c in &edited.changes {
        text.push_str(&format!(
            "\n- {} (undo with /revert {})",
            c.describe(),
            c.audit
        ));
    }
    if !edited.unchanged.is_empty() {
        text.push_str(&format!(
            "\nUnchanged (already so): {}.",
            edited.unchanged.join(", ")
        ));
    }
    if edited.changes.iter().any(|c| c.field == Field::Email) {
        text.push_str(&match &edited.code_mailed_to {
            Some(to) => format!(
                "\nA new link code is on its way to {to}; the earlier codes no longer work. Their chat accounts stay linked."
            ),
            None => "\nThey are deactivated, so no email was sent; the earlier link codes no longer work. Their chat accounts stay linked.".to_string(),
        });
    }
    if phone_follows && edited.changes.iter().any(|c| c.field == Field::Phone) {
        text.push_str(&format!(
            "\nTheir external ID is still {} (the old phone): change it with external_id: if it should follow.",
            user.external_id.as_deref().unwrap_or_default()
        ));
    }
    Ok(Reply::text(text))
}

/// The email of someone holding a staff role carries the link code to their account: only a
/// super admin changes it, or the staff member themselves (a program manager changing a
/// colleague's email would receive the code that opens the colleague's account).
async fn refuse_staff_email(ctx: &mut Ctx<'_>, user: &User) -> Result<()> {
    if ctx.actor_id() == Some(user.id) || ctx.actor.holds(Capability::ManageStaff) {
        return Ok(());
    }
    let grants = store::staff::grants_of(ctx.c(), user.id).await?;
    if grants.is_empty() {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "{} is staff: the email of a staff member is changed by a super admin only (a new link code to their account goes there)",
        user.full_name
    )))
}

/// `/revert N` of an edit (docs/domain.md#revert), for `statuses::revert`, once it has found
/// the entry's person in the caller's scope and checked the entry is not reverted yet: None
/// when the entry is not an edit. A tag is reverted by a super admin only; a nudge is refused
/// (it was sent).
pub(crate) async fn revert_edit(
    ctx: &mut Ctx<'_>,
    entry: &AuditEntry,
    user: &User,
    reason: Option<&str>,
) -> Result<Option<Reply>> {
    let id = entry.id;
    if entry.entity == "user" && entry.field == NUDGED {
        return Err(Error::conflict(format!(
            "entry #{id} is a nudge: a reminder that went out cannot be taken back"
        )));
    }
    let Some(field) = Field::of_entry(entry) else {
        return Ok(None);
    };
    if field.is_tag() && !ctx.actor.holds(Capability::EditTags) {
        return Err(Error::forbidden(
            "identifiers (tags) are set by a super admin: ask one to revert this",
        ));
    }
    if field == Field::Email {
        refuse_staff_email(ctx, user).await?;
    }
    let reason = reason
        .map(str::to_string)
        .unwrap_or_else(|| format!("revert of #{id}"));
    ctx.reverting = Some(id);
    let (change, mailed) = domain::edits::revert_edit(ctx, user, entry, Some(&reason)).await?;
    if !store::audit::mark_reverted(ctx.c(), id, change.audit).await? {
        return Err(Error::conflict(format!(
            "entry #{id} was reverted a moment ago by someone else"
        )));
    }
    let mail = match (&change.field, mailed) {
        (Field::Email, Some(to)) => format!("\nA new link code is on its way to {to}."),
        _ => String::new(),
    };
    Ok(Some(Reply::text(format!(
        "Reverted #{id}: {}'s {} (audit #{}; undo with /revert {}){mail}",
        user.full_name,
        change.describe(),
        change.audit,
        change.audit
    ))))
}

command! {
    pub struct Nudge {
        name: "nudge",
        about: "Remind a participant now, by chat and email, with a few words of yours",
        access: Access::Staff(Capability::Nudge),
        example: "/nudge ana@example.org \"Your mentor is waiting to hear from you\"",
        args: {
            person: PersonRef = pos(K::Person, ABOUT_PERSON),
            message: Option<Reason> = opt_pos(K::Text, "what to tell them, in quotes (at most 500 characters)"),
        }
    }
}

/// docs/domain.md#nudge: a reminder now to a participant in the caller's scope, audited; every
/// nudge goes out (its messages are keyed by its audit entry).
pub(crate) async fn nudge(ctx: &mut Ctx<'_>, a: Nudge) -> Result<Reply> {
    let user = ctx.find_user(&a.person, Capability::Nudge).await?;
    let from = ctx.me()?.full_name.clone();
    let sent = domain::edits::nudge(ctx, &user, &from, a.message.as_deref()).await?;
    let how = match sent.chats {
        0 => "by email (they have no chat account linked)".to_string(),
        1 => "by chat and email".to_string(),
        n => format!("by chat ({n} accounts) and email"),
    };
    Ok(Reply::text(format!(
        "Nudged {} {how} (audit #{}).",
        user.full_name, sent.audit
    )))
}
