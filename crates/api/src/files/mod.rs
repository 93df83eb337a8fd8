//! What `/w/images/` and `/w/index.php` serve: files and their description pages.

pub mod pages;
pub mod serve;
