//! The MediaWiki upload semantics mwstore implements, as pure functions and small types:
//! file-name rules, MIME sniffing and content verification, file properties and metadata,
//! rights, and the configuration that drives them. Nothing here touches HTTP, SQL or a
//! particular storage layout.

pub mod base36;
pub mod config;
pub mod copyupload;
pub mod mime;
pub mod props;
pub mod rights;
pub mod svg;
pub mod title;
pub mod verify;

#[cfg(test)]
mod test_util {
    use std::io::Write;

    /// A temporary file holding `bytes`, for the checks that read files.
    pub fn file(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f.flush().unwrap();
        f
    }
}
