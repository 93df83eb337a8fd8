//! The sources of an upload. Each only brings bytes to the server and says what they are
//! (a [`super::Candidate`]); nothing here decides about names, permissions or warnings.

pub mod chunks;
pub mod file;
pub mod stashed;
pub mod url;
