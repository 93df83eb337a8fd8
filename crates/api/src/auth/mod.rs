//! Logging in (bot passwords, `clientlogin`), sessions and tokens.

pub mod cache;
pub mod login;
pub mod session;
pub mod throttle;

pub use login::{
    canonical_user_name, generate_bot_password, generate_password, hash_password, valid_user_name,
    verify_password,
};
