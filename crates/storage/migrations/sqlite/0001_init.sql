-- mwstore metadata schema (SQLite). Timestamps are MediaWiki-style 14-digit UTC strings
-- (YYYYMMDDHHMMSS); sha1 values are 40-char lowercase hex.

CREATE TABLE user (
    user_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_name TEXT NOT NULL UNIQUE,
    user_password TEXT NOT NULL,
    user_groups TEXT NOT NULL DEFAULT '',
    user_registration TEXT NOT NULL,
    user_editcount INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE bot_passwords (
    bp_user INTEGER NOT NULL REFERENCES user(user_id),
    bp_app_id TEXT NOT NULL,
    bp_password TEXT NOT NULL,
    bp_grants TEXT NOT NULL,
    bp_created TEXT NOT NULL,
    PRIMARY KEY (bp_user, bp_app_id)
);

CREATE TABLE session (
    s_id TEXT PRIMARY KEY,
    s_user INTEGER NOT NULL DEFAULT 0,
    s_bot_app TEXT,
    s_grants TEXT,
    s_secrets TEXT NOT NULL DEFAULT '{}',
    s_expires INTEGER NOT NULL
);
CREATE INDEX session_expires ON session (s_expires);

CREATE TABLE page (
    page_id INTEGER PRIMARY KEY AUTOINCREMENT,
    page_namespace INTEGER NOT NULL,
    page_title TEXT NOT NULL,
    page_latest INTEGER NOT NULL DEFAULT 0,
    page_touched TEXT NOT NULL,
    page_len INTEGER NOT NULL DEFAULT 0,
    UNIQUE (page_namespace, page_title)
);

CREATE TABLE revision (
    rev_id INTEGER PRIMARY KEY AUTOINCREMENT,
    rev_page INTEGER NOT NULL,
    rev_user INTEGER NOT NULL,
    rev_user_text TEXT NOT NULL,
    rev_timestamp TEXT NOT NULL,
    rev_comment TEXT NOT NULL,
    rev_text TEXT NOT NULL,
    rev_parent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX revision_page ON revision (rev_page, rev_id);

-- Revisions of deleted pages (for undelete and the was-deleted warning).
CREATE TABLE archive (
    ar_id INTEGER PRIMARY KEY AUTOINCREMENT,
    ar_namespace INTEGER NOT NULL,
    ar_title TEXT NOT NULL,
    ar_rev_id INTEGER NOT NULL,
    ar_page_id INTEGER NOT NULL,
    ar_user INTEGER NOT NULL,
    ar_user_text TEXT NOT NULL,
    ar_timestamp TEXT NOT NULL,
    ar_comment TEXT NOT NULL,
    ar_text TEXT NOT NULL,
    ar_parent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX archive_title ON archive (ar_namespace, ar_title);

CREATE TABLE image (
    img_name TEXT PRIMARY KEY,
    img_size INTEGER NOT NULL,
    img_width INTEGER NOT NULL,
    img_height INTEGER NOT NULL,
    img_bits INTEGER NOT NULL,
    img_metadata TEXT NOT NULL,
    img_media_type TEXT NOT NULL,
    img_major_mime TEXT NOT NULL,
    img_minor_mime TEXT NOT NULL,
    img_description TEXT NOT NULL,
    img_user INTEGER NOT NULL,
    img_user_text TEXT NOT NULL,
    img_timestamp TEXT NOT NULL,
    img_sha1 TEXT NOT NULL
);
CREATE INDEX image_sha1 ON image (img_sha1);
CREATE INDEX image_timestamp ON image (img_timestamp);

CREATE TABLE oldimage (
    oi_id INTEGER PRIMARY KEY AUTOINCREMENT,
    oi_name TEXT NOT NULL,
    oi_archive_name TEXT NOT NULL UNIQUE,
    oi_size INTEGER NOT NULL,
    oi_width INTEGER NOT NULL,
    oi_height INTEGER NOT NULL,
    oi_bits INTEGER NOT NULL,
    oi_metadata TEXT NOT NULL,
    oi_media_type TEXT NOT NULL,
    oi_major_mime TEXT NOT NULL,
    oi_minor_mime TEXT NOT NULL,
    oi_description TEXT NOT NULL,
    oi_user INTEGER NOT NULL,
    oi_user_text TEXT NOT NULL,
    oi_timestamp TEXT NOT NULL,
    oi_sha1 TEXT NOT NULL
);
CREATE INDEX oldimage_name ON oldimage (oi_name, oi_timestamp);
CREATE INDEX oldimage_sha1 ON oldimage (oi_sha1);

CREATE TABLE filearchive (
    fa_id INTEGER PRIMARY KEY AUTOINCREMENT,
    fa_name TEXT NOT NULL,
    fa_archive_name TEXT,
    fa_storage_key TEXT NOT NULL,
    fa_deleted_user INTEGER NOT NULL,
    fa_deleted_timestamp TEXT NOT NULL,
    fa_deleted_reason TEXT NOT NULL,
    fa_size INTEGER NOT NULL,
    fa_width INTEGER NOT NULL,
    fa_height INTEGER NOT NULL,
    fa_bits INTEGER NOT NULL,
    fa_metadata TEXT NOT NULL,
    fa_media_type TEXT NOT NULL,
    fa_major_mime TEXT NOT NULL,
    fa_minor_mime TEXT NOT NULL,
    fa_description TEXT NOT NULL,
    fa_user INTEGER NOT NULL,
    fa_user_text TEXT NOT NULL,
    fa_timestamp TEXT NOT NULL,
    fa_sha1 TEXT NOT NULL
);
CREATE INDEX filearchive_name ON filearchive (fa_name);
CREATE INDEX filearchive_sha1 ON filearchive (fa_sha1);

CREATE TABLE logging (
    log_id INTEGER PRIMARY KEY AUTOINCREMENT,
    log_type TEXT NOT NULL,
    log_action TEXT NOT NULL,
    log_namespace INTEGER NOT NULL,
    log_title TEXT NOT NULL,
    log_page INTEGER NOT NULL,
    log_user INTEGER NOT NULL,
    log_user_text TEXT NOT NULL,
    log_timestamp TEXT NOT NULL,
    log_comment TEXT NOT NULL,
    log_params TEXT NOT NULL
);
CREATE INDEX logging_type ON logging (log_type, log_timestamp);

CREATE TABLE uploadstash (
    us_id INTEGER PRIMARY KEY AUTOINCREMENT,
    us_user INTEGER NOT NULL,
    us_key TEXT NOT NULL UNIQUE,
    us_sha1 TEXT NOT NULL,
    us_size INTEGER NOT NULL,
    us_source_type TEXT,
    us_timestamp TEXT NOT NULL,
    us_expires INTEGER NOT NULL,
    us_status TEXT NOT NULL,
    us_chunk_inx INTEGER,
    us_props TEXT NOT NULL,
    us_mime TEXT NOT NULL,
    us_media_type TEXT NOT NULL,
    us_image_width INTEGER NOT NULL,
    us_image_height INTEGER NOT NULL,
    us_image_bits INTEGER NOT NULL,
    us_temp_name TEXT NOT NULL
);
CREATE INDEX uploadstash_user ON uploadstash (us_user, us_id);
CREATE INDEX uploadstash_sha1 ON uploadstash (us_sha1);
CREATE INDEX uploadstash_expires ON uploadstash (us_expires);

CREATE TABLE page_restrictions (
    pr_page INTEGER NOT NULL,
    pr_type TEXT NOT NULL,
    pr_level TEXT NOT NULL,
    pr_expiry TEXT NOT NULL DEFAULT 'infinity',
    PRIMARY KEY (pr_page, pr_type)
);

CREATE TABLE watchlist (
    wl_user INTEGER NOT NULL,
    wl_namespace INTEGER NOT NULL,
    wl_title TEXT NOT NULL,
    PRIMARY KEY (wl_user, wl_namespace, wl_title)
);
