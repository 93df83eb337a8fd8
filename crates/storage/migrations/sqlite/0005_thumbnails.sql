-- Rendered thumbnails: derivatives of a file's content, stored in the blob store like any
-- other bytes. Keyed by the source's sha1 and the thumbnail's name (`220px-Name.jpg`), so a
-- version's thumbnails go when no version refers to its content any more.
CREATE TABLE thumbnail (
    th_source TEXT NOT NULL,
    th_name TEXT NOT NULL,
    th_sha1 TEXT NOT NULL,
    th_mime TEXT NOT NULL,
    th_width INTEGER NOT NULL,
    th_height INTEGER NOT NULL,
    th_size INTEGER NOT NULL,
    th_timestamp TEXT NOT NULL,
    PRIMARY KEY (th_source, th_name)
);
CREATE INDEX thumbnail_sha1 ON thumbnail (th_sha1);
