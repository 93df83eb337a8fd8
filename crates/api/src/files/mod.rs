//! What `/w/images/`, `/w/thumb.php` and `/w/index.php` serve: files, thumbnails and
//! description pages.

pub mod pages;
pub mod serve;
pub mod thumbs;
