//! The MediaWiki upload semantics mwstore implements, as pure functions and small types:
//! file-name rules, MIME sniffing and content verification, file properties and metadata,
//! rights, and the configuration that drives them. Nothing here touches HTTP, SQL or a
//! particular storage layout.

pub mod base36;
pub mod config;
pub mod copyupload;
pub mod io;
pub mod mime;
pub mod props;
pub mod rights;
pub mod svg;
pub mod title;
pub mod verify;
