//! HTTP: the `api.php` entry, reading bodies under limits, output framing, the one HTML
//! helper and request ids.

pub mod body;
pub mod entry;
pub mod html;
pub mod output;
pub mod request_id;
pub mod server;
