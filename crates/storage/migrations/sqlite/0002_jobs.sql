-- Status of asynchronous upload steps, as checkstatus reports it, by (user, filekey).
CREATE TABLE upload_status (
    st_user INTEGER NOT NULL,
    st_key TEXT NOT NULL,
    st_data TEXT NOT NULL,
    st_expires INTEGER NOT NULL,
    PRIMARY KEY (st_user, st_key)
);
CREATE INDEX upload_status_expires ON upload_status (st_expires);

-- Durable jobs run by the server itself (chunk assembly, publishing from the stash).
CREATE TABLE job (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_type TEXT NOT NULL,
    job_user INTEGER NOT NULL,
    job_key TEXT NOT NULL,
    job_params TEXT NOT NULL,
    job_created INTEGER NOT NULL
);
