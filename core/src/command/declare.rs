//! How a command is declared: once, next to its handler, with [`command!`]. One declaration
//! yields the command's [`CommandSpec`] (name, description, arguments, access — what `/help`,
//! the parser, the permission check and the chat menus read) and a struct of typed arguments
//! whose field names *are* the argument names, filled from the parsed text by
//! [`Command::from_invocation`]. The registry (`command::registry`) lists the declared
//! commands with their handlers and dispatches to them.
//!
//! ```ignore
//! command! {
//!     /// `/user_show ana@example.org`
//!     pub struct UserShow {
//!         name: "user_show",
//!         about: "Show a person: statuses, personas, matches, tags, activity",
//!         access: Access::Staff(Capability::ReadUsers),
//!         example: "/user_show ana@example.org",
//!         args: { person: PersonRef = pos(K::Person, ABOUT_PERSON) }
//!     }
//! }
//! ```

use super::args::Invocation;
use super::spec::CommandSpec;
use crate::error::Result;

/// A declared command: its spec, and its typed arguments from a parsed invocation.
pub trait Command: Sized {
    const SPEC: CommandSpec;
    fn from_invocation(inv: &Invocation) -> Result<Self>;
}

/// Declares a command; see the module documentation. `pos`, `opt_pos`, `opt`, `req` and `rest`
/// say how an argument is given (`command::spec`); the field's type says what it holds
/// (`command::args`). `runs:` (default: in one transaction), `press:` (default: a press's
/// reply appends to the pressed message) and `listed_for:` (default: everyone it is open to)
/// are optional.
macro_rules! command {
    (
        $(#[$meta:meta])*
        $vis:vis struct $ty:ident {
            name: $name:literal,
            about: $about:literal,
            access: $access:expr,
            example: $example:literal,
            $(runs: $runs:expr,)?
            $(press: $press:expr,)?
            $(listed_for: $listed_for:expr,)?
            args: { $( $field:ident : $fty:ty = $how:ident($kind:expr, $arg_about:expr) ),* $(,)? } $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug)]
        $vis struct $ty {
            $( pub $field: $fty, )*
        }

        impl $crate::command::declare::Command for $ty {
            const SPEC: $crate::command::spec::CommandSpec = $crate::command::spec::CommandSpec {
                name: $name,
                about: $about,
                args: &[ $( $crate::command::spec::$how(stringify!($field), $kind, $arg_about) ),* ],
                access: $access,
                example: $example,
                runs: command!(@runs $($runs)?),
                press: command!(@press $($press)?),
                listed_for: command!(@listed_for $($listed_for)?),
            };

            #[allow(unused_variables)]
            fn from_invocation(
                inv: &$crate::command::args::Invocation,
            ) -> $crate::error::Result<Self> {
                Ok(Self {
                    $( $field: $crate::command::args::FromArg::from_arg(inv, stringify!($field))?, )*
                })
            }
        }
    };
    (@runs) => { $crate::command::spec::Runs::InOneTransaction };
    (@runs $runs:expr) => { $runs };
    (@press) => { $crate::command::spec::Press::Appends };
    (@press $press:expr) => { $press };
    (@listed_for) => { None };
    (@listed_for $role:expr) => { Some($role) };
}

pub(crate) use command;
