//! Whose fault a failure is: the user's input, or the work itself.
//!
//! Every error type of this library says which kind each of its variants is, where the type is
//! defined, with a `match` that names every variant (no wildcard, so a new variant cannot slip
//! through with a guessed exit code). `cli.rs` turns a kind into an exit code in one place.

/// The kind of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The work failed (a tool, the file system, an invalid image found by `validate`): exit 1.
    Failure,
    /// The user's input is wrong (a recipe, a flag, an unreadable input, the environment): exit 2.
    /// Ranks above [`ErrorKind::Failure`]: when several things fail, this is the one reported.
    Input,
}
