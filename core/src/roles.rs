//! Roles and the permission table (docs/domain.md#capabilities), as data. Commands name the
//! capability they need; [`role_has`] is the only place that says which staff role holds which
//! capability. Scope (which programs a program manager or coordinator may act in) is checked by the
//! command context against the staff member's program grants.

use std::fmt;

use crate::error::Error;
use crate::reply::echo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonaRole {
    Mentor,
    Mentee,
}

impl PersonaRole {
    pub const ALL: [PersonaRole; 2] = [Self::Mentor, Self::Mentee];
    codes_of_all!(2);
    pub const fn code(self) -> &'static str {
        match self {
            Self::Mentor => "mentor",
            Self::Mentee => "mentee",
        }
    }
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw.trim().to_lowercase().as_str() {
            "mentor" | "mentors" => Ok(Self::Mentor),
            "mentee" | "mentees" => Ok(Self::Mentee),
            _ => Err(Error::input(format!(
                "'{}' is not a role: use mentor or mentee",
                echo(raw.trim())
            ))),
        }
    }
    pub fn from_code(code: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| Error::Internal(format!("unknown persona role in the database: {code}")))
    }
}

impl fmt::Display for PersonaRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StaffRole {
    SuperAdmin,
    ProgramManager,
    SuccessCoordinator,
}

impl StaffRole {
    pub const ALL: [StaffRole; 3] = [
        Self::SuperAdmin,
        Self::ProgramManager,
        Self::SuccessCoordinator,
    ];
    codes_of_all!(3);
    pub const fn code(self) -> &'static str {
        match self {
            Self::SuperAdmin => "super_admin",
            Self::ProgramManager => "program_manager",
            Self::SuccessCoordinator => "success_coordinator",
        }
    }
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw.trim().to_lowercase().replace(['-', ' '], "_").as_str() {
            "super_admin" | "superadmin" | "admin" => Ok(Self::SuperAdmin),
            "program_manager" | "pm" => Ok(Self::ProgramManager),
            "success_coordinator" | "sc" => Ok(Self::SuccessCoordinator),
            _ => Err(Error::input(format!(
                "'{}' is not a staff role: use super_admin, program_manager (pm) or success_coordinator (sc)",
                echo(raw.trim())
            ))),
        }
    }
    pub fn from_code(code: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| Error::Internal(format!("unknown staff role in the database: {code}")))
    }
    /// A super admin acts in every organization; the others only in the programs granted to them.
    pub fn is_global(self) -> bool {
        self == Self::SuperAdmin
    }
}

impl fmt::Display for StaffRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// What a staff command needs. One capability per kind of act, so the table below reads as
/// docs/domain.md#capabilities does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Create organizations and programs.
    ManageOrgs,
    /// Change a program's settings.
    ConfigurePrograms,
    /// Add staff of any role.
    ManageStaff,
    /// Add success coordinators to one's own programs.
    AddCoordinators,
    /// Add users, import them, give them personas and programs.
    AddUsers,
    /// Read users, personas, matches, offers; list inactive users.
    ReadUsers,
    /// Change user, persona and match statuses; deactivate, reactivate, revert.
    ChangeStatus,
    /// Assign and pair, run auto-pairing.
    Pair,
    /// Read the audit log.
    ReadAudit,
    /// Permanently delete a user.
    DeleteUsers,
    /// Export raw data.
    ExportData,
    /// Set or edit identifiers (tags).
    EditTags,
    /// Send a participant a reminder now (`/nudge`).
    Nudge,
}

impl Capability {
    pub const ALL: [Capability; 13] = [
        Self::ManageOrgs,
        Self::ConfigurePrograms,
        Self::ManageStaff,
        Self::AddCoordinators,
        Self::AddUsers,
        Self::ReadUsers,
        Self::ChangeStatus,
        Self::Pair,
        Self::ReadAudit,
        Self::DeleteUsers,
        Self::ExportData,
        Self::EditTags,
        Self::Nudge,
    ];
}

use Capability as C;
use StaffRole::{ProgramManager as PM, SuccessCoordinator as SC, SuperAdmin as SA};

/// docs/domain.md#capabilities. Interpretations (docs/domain.md#interpretations): creating
/// organizations and programs is the super admin's (a program manager works inside programs they
/// are given); a program manager may add success coordinators to their own programs ("Who adds PMs
/// and SCs" there); success coordinators read and nudge, but change no status (the brief lets
/// coordinators nudge people; `/nudge`, docs/domain.md#nudge).
pub const PERMISSIONS: [(Capability, &[StaffRole]); 13] = [
    (C::ManageOrgs, &[SA]),
    (C::ConfigurePrograms, &[SA, PM]),
    (C::ManageStaff, &[SA]),
    (C::AddCoordinators, &[SA, PM]),
    (C::AddUsers, &[SA, PM]),
    (C::ReadUsers, &[SA, PM, SC]),
    (C::ChangeStatus, &[SA, PM]),
    (C::Pair, &[SA, PM]),
    (C::ReadAudit, &[SA, PM]),
    (C::DeleteUsers, &[SA]),
    (C::ExportData, &[SA]),
    (C::EditTags, &[SA]),
    (C::Nudge, &[SA, PM, SC]),
];

pub fn role_has(role: StaffRole, cap: Capability) -> bool {
    PERMISSIONS
        .iter()
        .any(|(c, roles)| *c == cap && roles.contains(&role))
}

/// The roles holding `cap`, for refusal messages ("needs program_manager or super_admin").
pub fn roles_with(cap: Capability) -> Vec<StaffRole> {
    StaffRole::ALL
        .into_iter()
        .filter(|r| role_has(*r, cap))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_is_in_the_table_once_and_super_admin_has_all() {
        for cap in Capability::ALL {
            assert_eq!(
                PERMISSIONS.iter().filter(|(c, _)| *c == cap).count(),
                1,
                "{cap:?}"
            );
            assert!(role_has(SA, cap));
        }
    }

    #[test]
    fn only_super_admin_deletes_exports_and_edits_tags() {
        for cap in [C::DeleteUsers, C::ExportData, C::EditTags] {
            assert_eq!(roles_with(cap), vec![SA]);
        }
        assert!(!role_has(SC, C::ChangeStatus));
        assert!(role_has(SC, C::ReadUsers));
        assert_eq!(roles_with(C::Nudge), vec![SA, PM, SC]);
    }
}
