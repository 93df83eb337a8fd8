//! Durable jobs: chunk assembly and publishing from the stash. [`queue`] defines what a job
//! carries (typed, never JSON picked apart) and how a job ends; [`runner`] claims jobs with
//! a lease and runs them through the ingest pipeline.
//!
//! A job carries only the user id and the grants of the session that queued it, never the
//! request's cookies or headers.

pub mod queue;
pub mod runner;
