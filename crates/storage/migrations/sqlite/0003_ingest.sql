-- The ingest pipeline: a chunked upload keeps its running SHA-1 with its progress (so no
-- node ever rereads its bytes), and jobs are claimed with a lease (a job whose worker died
-- is taken over when its lease ends; no two workers run one job).
ALTER TABLE uploadstash ADD COLUMN us_hash_state BLOB;
ALTER TABLE job ADD COLUMN job_owner TEXT;
ALTER TABLE job ADD COLUMN job_lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN job_attempts INTEGER NOT NULL DEFAULT 0;
