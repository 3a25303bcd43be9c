//! Every kind of caller the corpus runs as: staff of each role, a ready mentee, a matched
//! mentor, an applicant, a deactivated user and an unlinked chat account.

use mentorops_core::command::spec::{Audience, refusal};
use mentorops_core::command::{Caller, CommandSpec};
use mentorops_core::roles::StaffRole;
use mentorops_core::status::UserStatus;

use crate::support::TestApp;
use crate::support::people::{ANA_MENTEE, BEN_MENTEE, MARIA_MENTOR, TOM_MENTOR};

/// One kind of caller: who they are to the permission table, and how they call.
pub struct Who {
    pub label: &'static str,
    pub caller: Caller,
    linked: bool,
    status: Option<UserStatus>,
    roles: Vec<StaffRole>,
}

impl Who {
    pub fn may_run(&self, spec: &CommandSpec) -> bool {
        let audience = Audience {
            linked: self.linked,
            // None of these callers has only closed matches: the user status decides.
            access: self.status.map(|s| s.info().bot_access),
            staff_roles: &self.roles,
            persona_roles: &[],
        };
        refusal(spec, audience).is_none()
    }
}

pub async fn callers(app: &TestApp) -> Vec<Who> {
    app.with_program().await;
    // A ready mentee (who can /choose) and mentor, and a matched pair (who can book sessions).
    let ana = app.ready(ANA_MENTEE).await;
    app.ready(MARIA_MENTOR).await;
    app.ready(BEN_MENTEE).await;
    let tom = app.ready(TOM_MENTOR).await;
    app.admin("/assign ben@example.org tom@example.org").await;
    for (i, (email, status)) in [
        ("target@example.org", None),
        ("ai@example.org", None),
        ("gone@example.org", Some("IW")),
    ]
    .into_iter()
    .enumerate()
    {
        app.admin(&format!(
            "/user_add \"Person {i}\" {email} +1415555070{i} mentee program:Spring"
        ))
        .await;
        if let Some(s) = status {
            app.admin(&format!("/status {email} {s}")).await;
        }
    }
    let who = |label, caller, status, roles| Who {
        label,
        caller,
        linked: true,
        status: Some(status),
        roles,
    };
    let console = |email: &'static str| async move { app.caller_for(app.user_id(email).await) };
    vec![
        who(
            "the super admin",
            app.caller_for(app.admin_id),
            UserStatus::Active,
            vec![StaffRole::SuperAdmin],
        ),
        who(
            "a program manager",
            console("pm@example.org").await,
            UserStatus::Active,
            vec![StaffRole::ProgramManager],
        ),
        who(
            "a success coordinator",
            console("sc@example.org").await,
            UserStatus::Active,
            vec![StaffRole::SuccessCoordinator],
        ),
        who("a ready mentee", ana, UserStatus::Active, vec![]),
        who("a matched mentor", tom, UserStatus::Active, vec![]),
        who(
            "an applicant (AI)",
            console("ai@example.org").await,
            UserStatus::ApplicationIncomplete,
            vec![],
        ),
        who(
            "a deactivated user (IW)",
            console("gone@example.org").await,
            UserStatus::InactiveWithdrawn,
            vec![],
        ),
        Who {
            label: "an unlinked chat account",
            caller: app.chat("9999"),
            linked: false,
            status: None,
            roles: vec![],
        },
    ]
}
