//! The MediaWiki upload semantics mwstore implements, as pure functions and small types:
//! file-name rules, MIME sniffing and content verification, file properties and metadata,
//! rights, and the configuration that drives them. Nothing here touches HTTP, SQL or a
//! particular storage layout; uploads are read through [`io::Content`].
//!
//! The modules form a leaf order; each uses only modules before it, never one after it:
//! `io` (content access) → `php` (PHP-compatible helpers) → the independent leaves `base36`,
//! `config`, `title`, `rights` and `copyupload` → `xml` (streaming XML walker, encodings,
//! character references) → `verdict` (`VerificationError`) → `css` → `svg` (script filter,
//! metadata reader) → `mime` → `props` → `raster` (structure, markup and trailers of PNG, GIF, JPEG, WebP) →
//! `container` (structure of TIFF, PDF, WAV, MIDI, MP3, Ogg, FLAC, WebM) → `verify`.
//! Beside them, after `title`: `wikitext` (description page text → safe HTML) → `describe`
//! (the facts of a description page for `extmetadata`).

pub mod base36;
pub mod config;
pub mod container;
pub mod copyupload;
pub mod css;
pub mod decode;
pub mod describe;
pub mod io;
pub mod mime;
mod php;
pub mod props;
pub mod raster;
pub mod render;
pub mod rights;
pub mod svg;
pub mod thumb;
pub mod title;
pub mod verdict;
pub mod verify;
pub mod wikitext;
pub mod xml;
