//! The read side of the SQLite repository.

use async_trait::async_trait;
use sqlx::Row;

use super::*;
use crate::repo::*;

#[async_trait]
impl UserRepo for SqliteRepo {
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        groups: &[String],
        now: &str,
    ) -> Result<User, StoreError> {
        let mut w = self.writer.begin().await?;
        let taken = sqlx::query("SELECT 1 FROM user WHERE user_name = ?")
            .bind(name)
            .fetch_optional(w.conn()?)
            .await?
            .is_some();
        if taken {
            return Err(StoreError::AlreadyExists(format!("user {name}")));
        }
        let r = sqlx::query(
            "INSERT INTO user (user_name, user_password, user_groups, user_registration) \
             VALUES (?,?,?,?)",
        )
        .bind(name)
        .bind(password_hash)
        .bind(groups.join(","))
        .bind(now)
        .execute(w.conn()?)
        .await?;
        let id = r.last_insert_rowid();
        w.finish().await?;
        self.user_by_id(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM user WHERE user_name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn user_by_id(&self, id: i64) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM user WHERE user_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from).transpose()?)
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> Result<u64, StoreError> {
        let mut w = self.writer.begin().await?;
        sqlx::query("UPDATE user SET user_password = ? WHERE user_id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(w.conn()?)
            .await?;
        let ended = sqlx::query("DELETE FROM session WHERE s_user = ?")
            .bind(user_id)
            .execute(w.conn()?)
            .await?
            .rows_affected();
        w.finish().await?;
        Ok(ended)
    }

    async fn set_groups(&self, user_id: i64, groups: &[String]) -> Result<(), StoreError> {
        let mut w = self.writer.begin().await?;
        sqlx::query("UPDATE user SET user_groups = ? WHERE user_id = ?")
            .bind(groups.join(","))
            .bind(user_id)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(())
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT * FROM user ORDER BY user_id")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(user_from).collect::<Result<_, _>>()?)
    }

    async fn put_bot_password(&self, bp: &BotPassword) -> Result<u64, StoreError> {
        let mut w = self.writer.begin().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO bot_passwords (bp_user, bp_app_id, bp_password, bp_grants, \
             bp_created) VALUES (?,?,?,?,?)",
        )
        .bind(bp.user_id)
        .bind(&bp.app_id)
        .bind(&bp.password_hash)
        .bind(bp.grants.join(","))
        .bind(&bp.created)
        .execute(w.conn()?)
        .await?;
        let ended = delete_bot_sessions(w.conn()?, bp.user_id, &bp.app_id).await?;
        w.finish().await?;
        Ok(ended)
    }

    async fn bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<BotPassword>, StoreError> {
        let row = sqlx::query("SELECT * FROM bot_passwords WHERE bp_user = ? AND bp_app_id = ?")
            .bind(user_id)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(bot_password_from).transpose()?)
    }

    async fn bot_passwords(&self, user_id: i64) -> Result<Vec<BotPassword>, StoreError> {
        let rows = sqlx::query("SELECT * FROM bot_passwords WHERE bp_user = ? ORDER BY bp_app_id")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(bot_password_from)
            .collect::<Result<_, _>>()?)
    }

    async fn delete_bot_password(
        &self,
        user_id: i64,
        app_id: &str,
    ) -> Result<Option<u64>, StoreError> {
        let mut w = self.writer.begin().await?;
        let removed = sqlx::query("DELETE FROM bot_passwords WHERE bp_user = ? AND bp_app_id = ?")
            .bind(user_id)
            .bind(app_id)
            .execute(w.conn()?)
            .await?
            .rows_affected();
        let ended = if removed == 0 {
            None
        } else {
            Some(delete_bot_sessions(w.conn()?, user_id, app_id).await?)
        };
        w.finish().await?;
        Ok(ended)
    }
}

fn bot_password_from(row: &SqliteRow) -> Result<BotPassword, sqlx::Error> {
    Ok(BotPassword {
        user_id: row.try_get("bp_user")?,
        app_id: row.try_get("bp_app_id")?,
        password_hash: row.try_get("bp_password")?,
        grants: split_list(&row.try_get::<String, _>("bp_grants")?),
        created: row.try_get("bp_created")?,
    })
}

/// Ends the sessions made with the bot password `user_id@app_id`; how many.
async fn delete_bot_sessions(
    conn: &mut sqlx::SqliteConnection,
    user_id: i64,
    app_id: &str,
) -> Result<u64, StoreError> {
    Ok(
        sqlx::query("DELETE FROM session WHERE s_user = ? AND s_bot_app = ?")
            .bind(user_id)
            .bind(app_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

#[async_trait]
impl SessionRepo for SqliteRepo {
    async fn session(&self, id: &str, now: i64) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query("SELECT * FROM session WHERE s_id = ? AND s_expires > ?")
            .bind(id)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let secrets: String = row.try_get("s_secrets")?;
        let grants: Option<String> = row.try_get("s_grants")?;
        Ok(Some(Session {
            id: row.try_get("s_id")?,
            user_id: row.try_get("s_user")?,
            bot_app: row.try_get("s_bot_app")?,
            grants: grants.map(|g| split_list(&g)),
            secrets: serde_json::from_str(&secrets).unwrap_or_default(),
            expires: row.try_get("s_expires")?,
            is_new: false,
        }))
    }

    async fn create_session(&self, s: &Session) -> Result<(), StoreError> {
        let secrets =
            serde_json::to_string(&s.secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut w = self.writer.begin().await?;
        let r = sqlx::query(
            "INSERT INTO session (s_id, s_user, s_bot_app, s_grants, s_secrets, s_expires) \
             VALUES (?,?,?,?,?,?) ON CONFLICT (s_id) DO NOTHING",
        )
        .bind(&s.id)
        .bind(s.user_id)
        .bind(&s.bot_app)
        .bind(s.grants.as_ref().map(|g| g.join(",")))
        .bind(secrets)
        .bind(s.expires)
        .execute(w.conn()?)
        .await?;
        w.finish().await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::AlreadyExists("session".into()));
        }
        Ok(())
    }

    async fn update_session(&self, s: &Session) -> Result<bool, StoreError> {
        let secrets =
            serde_json::to_string(&s.secrets).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut w = self.writer.begin().await?;
        let r = sqlx::query(
            "UPDATE session SET s_user = ?, s_bot_app = ?, s_grants = ?, s_secrets = ?, \
             s_expires = ? WHERE s_id = ?",
        )
        .bind(s.user_id)
        .bind(&s.bot_app)
        .bind(s.grants.as_ref().map(|g| g.join(",")))
        .bind(secrets)
        .bind(s.expires)
        .bind(&s.id)
        .execute(w.conn()?)
        .await?;
        w.finish().await?;
        Ok(r.rows_affected() > 0)
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        let mut w = self.writer.begin().await?;
        sqlx::query("DELETE FROM session WHERE s_id = ?")
            .bind(id)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(())
    }

    async fn delete_user_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        let mut w = self.writer.begin().await?;
        let r = sqlx::query("DELETE FROM session WHERE s_user = ?")
            .bind(user_id)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(r.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let mut w = self.writer.begin().await?;
        let r = sqlx::query("DELETE FROM session WHERE s_expires <= ?")
            .bind(now)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(r.rows_affected())
    }
}

#[async_trait]
impl PageRepo for SqliteRepo {
    async fn page(&self, ns: i32, title: &str) -> Result<Option<Page>, StoreError> {
        let row = sqlx::query("SELECT * FROM page WHERE page_namespace = ? AND page_title = ?")
            .bind(ns)
            .bind(title)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(page_from).transpose()?)
    }

    async fn page_by_id(&self, id: i64) -> Result<Option<Page>, StoreError> {
        let row = sqlx::query("SELECT * FROM page WHERE page_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(page_from).transpose()?)
    }

    async fn revisions(
        &self,
        page_id: i64,
        limit: u32,
        newest_first: bool,
    ) -> Result<Vec<Revision>, StoreError> {
        let sql = if newest_first {
            "SELECT * FROM revision WHERE rev_page = ? ORDER BY rev_id DESC LIMIT ?"
        } else {
            "SELECT * FROM revision WHERE rev_page = ? ORDER BY rev_id ASC LIMIT ?"
        };
        let rows = sqlx::query(sql)
            .bind(page_id)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(revision_from).collect::<Result<_, _>>()?)
    }

    async fn revision(&self, rev_id: i64) -> Result<Option<Revision>, StoreError> {
        let row = sqlx::query("SELECT * FROM revision WHERE rev_id = ?")
            .bind(rev_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(revision_from).transpose()?)
    }

    async fn has_deleted_revisions(&self, ns: i32, title: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 FROM archive WHERE ar_namespace = ? AND ar_title = ? LIMIT 1")
                .bind(ns)
                .bind(title)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }

    async fn restrictions(
        &self,
        page_id: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT pr_type, pr_level, pr_expiry FROM page_restrictions WHERE pr_page = ? \
             ORDER BY pr_type",
        )
        .bind(page_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?));
        }
        Ok(out)
    }

    async fn is_watched(&self, user_id: i64, ns: i32, title: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM watchlist WHERE wl_user = ? AND wl_namespace = ? AND wl_title = ?",
        )
        .bind(user_id)
        .bind(ns)
        .bind(title)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

#[async_trait]
impl FileRepo for SqliteRepo {
    async fn current_file(&self, name: &str) -> Result<Option<FileVersion>, StoreError> {
        let row = sqlx::query("SELECT * FROM image WHERE img_name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(image_from).transpose()?)
    }

    async fn file_history(&self, name: &str) -> Result<Vec<FileVersion>, StoreError> {
        let mut out = Vec::new();
        if let Some(cur) = self.current_file(name).await? {
            out.push(cur);
        }
        let rows = sqlx::query(
            "SELECT * FROM oldimage WHERE oi_name = ? ORDER BY oi_timestamp DESC, oi_id DESC",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        for r in &rows {
            out.push(oldimage_from(r)?);
        }
        Ok(out)
    }

    async fn old_file(&self, archive_name: &str) -> Result<Option<FileVersion>, StoreError> {
        let row = sqlx::query("SELECT * FROM oldimage WHERE oi_archive_name = ?")
            .bind(archive_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(oldimage_from).transpose()?)
    }

    async fn names_by_sha1(&self, sha1: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT img_name FROM image WHERE img_sha1 = ? ORDER BY img_name")
            .bind(sha1)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<_, _>>()?)
    }

    async fn archived_by_sha1(&self, sha1: &str) -> Result<Vec<ArchivedFile>, StoreError> {
        let rows = sqlx::query("SELECT * FROM filearchive WHERE fa_sha1 = ? ORDER BY fa_id")
            .bind(sha1)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(archived_from).collect::<Result<_, _>>()?)
    }

    async fn archived_file(&self, id: i64) -> Result<Option<ArchivedFile>, StoreError> {
        let row = sqlx::query("SELECT * FROM filearchive WHERE fa_id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(archived_from).transpose()?)
    }

    async fn list_archived(
        &self,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<ArchivedFile>, StoreError> {
        let rows =
            match from {
                Some((name, id)) => sqlx::query(
                    "SELECT * FROM filearchive WHERE fa_name > ? OR (fa_name = ? AND fa_id >= ?) \
                     ORDER BY fa_name, fa_id LIMIT ?",
                )
                .bind(name.clone())
                .bind(name)
                .bind(id)
                .bind(limit as i64)
                .fetch_all(&self.pool)
                .await?,
                None => {
                    sqlx::query("SELECT * FROM filearchive ORDER BY fa_name, fa_id LIMIT ?")
                        .bind(limit as i64)
                        .fetch_all(&self.pool)
                        .await?
                }
            };
        Ok(rows.iter().map(archived_from).collect::<Result<_, _>>()?)
    }

    async fn first_name_with_prefix(&self, prefix: &str) -> Result<Option<String>, StoreError> {
        // Names sort bytewise: if any name starts with `prefix`, the first name at or after
        // it does. One index seek, no LIKE wildcards to escape.
        let row =
            sqlx::query("SELECT img_name FROM image WHERE img_name >= ? ORDER BY img_name LIMIT 1")
                .bind(prefix)
                .fetch_optional(&self.pool)
                .await?;
        let name = row.map(|r| r.try_get::<String, _>(0)).transpose()?;
        Ok(name.filter(|n| n.starts_with(prefix)))
    }

    async fn list_files(&self, q: &ImageQuery) -> Result<Vec<FileVersion>, StoreError> {
        let mut sql = String::from("SELECT * FROM image WHERE 1=1");
        let mut binds: Vec<String> = Vec::new();
        let mut int_binds: Vec<(usize, i64)> = Vec::new();
        let (cmp_fwd, cmp_back) = if q.descending {
            ("<=", ">=")
        } else {
            (">=", "<=")
        };
        match q.sort {
            ImageSort::Name => {
                if let Some(f) = &q.from {
                    sql.push_str(&format!(" AND img_name {cmp_fwd} ?"));
                    binds.push(f.clone());
                }
                if let Some(t) = &q.to {
                    sql.push_str(&format!(" AND img_name {cmp_back} ?"));
                    binds.push(t.clone());
                }
                if let Some(p) = &q.prefix {
                    sql.push_str(" AND substr(img_name, 1, length(?)) = ?");
                    binds.push(p.clone());
                    binds.push(p.clone());
                }
                if let Some((_, name)) = &q.continue_from {
                    sql.push_str(&format!(" AND img_name {cmp_fwd} ?"));
                    binds.push(name.clone());
                }
            }
            ImageSort::Timestamp => {
                if let Some(s) = &q.start {
                    sql.push_str(&format!(" AND img_timestamp {cmp_fwd} ?"));
                    binds.push(s.clone());
                }
                if let Some(e) = &q.end {
                    sql.push_str(&format!(" AND img_timestamp {cmp_back} ?"));
                    binds.push(e.clone());
                }
                if let Some((ts, name)) = &q.continue_from {
                    let op = if q.descending { "<" } else { ">" };
                    sql.push_str(&format!(
                        " AND (img_timestamp {op} ? OR (img_timestamp = ? AND img_name {cmp_fwd} ?))"
                    ));
                    binds.push(ts.clone());
                    binds.push(ts.clone());
                    binds.push(name.clone());
                }
                if let Some(u) = &q.user {
                    sql.push_str(" AND img_user_text = ?");
                    binds.push(u.clone());
                }
            }
        }
        if let Some(s) = &q.sha1 {
            sql.push_str(" AND img_sha1 = ?");
            binds.push(s.clone());
        }
        if let Some(m) = q.min_size {
            sql.push_str(" AND img_size >= ?");
            int_binds.push((binds.len(), m as i64));
            binds.push(String::new());
        }
        if let Some(m) = q.max_size {
            sql.push_str(" AND img_size <= ?");
            int_binds.push((binds.len(), m as i64));
            binds.push(String::new());
        }
        let dir = if q.descending { "DESC" } else { "ASC" };
        match q.sort {
            ImageSort::Name => sql.push_str(&format!(" ORDER BY img_name {dir}")),
            ImageSort::Timestamp => {
                sql.push_str(&format!(" ORDER BY img_timestamp {dir}, img_name {dir}"))
            }
        }
        sql.push_str(" LIMIT ?");
        let mut query = sqlx::query(&sql);
        for (i, b) in binds.iter().enumerate() {
            if let Some((_, v)) = int_binds.iter().find(|(j, _)| *j == i) {
                query = query.bind(*v);
            } else {
                query = query.bind(b.clone());
            }
        }
        query = query.bind(q.limit as i64);
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(image_from).collect::<Result<_, _>>()?)
    }

    async fn title_facts(&self, q: &TitleQuery<'_>) -> Result<TitleFacts, StoreError> {
        let others =
            serde_json::to_string(q.others).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = sqlx::query(
            "SELECT p.*, i.*, \
             EXISTS (SELECT 1 FROM archive WHERE ar_namespace = 6 AND ar_title = ?1) AS x_deleted, \
             (SELECT img_name FROM image WHERE img_name >= ?2 ORDER BY img_name LIMIT 1) AS x_prefixed, \
             (SELECT json_group_array(img_name) FROM (SELECT img_name FROM image \
                WHERE img_name IN (SELECT value FROM json_each(?4)))) AS x_others, \
             (SELECT json_group_array(img_name) FROM (SELECT img_name FROM image \
                WHERE ?3 IS NOT NULL AND img_sha1 = ?3 ORDER BY img_name)) AS x_same, \
             (SELECT fa_name FROM filearchive WHERE ?3 IS NOT NULL AND fa_sha1 = ?3 \
                ORDER BY fa_id LIMIT 1) AS x_deleted_same \
             FROM (SELECT 1) AS one \
             LEFT JOIN page p ON p.page_namespace = 6 AND p.page_title = ?1 \
             LEFT JOIN image i ON i.img_name = ?1",
        )
        .bind(q.name)
        .bind(q.prefix)
        .bind(q.sha1)
        .bind(others)
        .fetch_one(&self.pool)
        .await?;
        let list = |col: &str| -> Result<Vec<String>, StoreError> {
            let s: String = row.try_get(col)?;
            serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        let page = match row.try_get::<Option<i64>, _>("page_id")? {
            Some(_) => Some(page_from(&row)?),
            None => None,
        };
        let current = match row.try_get::<Option<String>, _>("img_name")? {
            Some(_) => Some(image_from(&row)?),
            None => None,
        };
        let prefixed: Option<String> = row.try_get("x_prefixed")?;
        Ok(TitleFacts {
            page,
            current,
            deleted_revisions: row.try_get("x_deleted")?,
            prefixed: prefixed.filter(|n| n.starts_with(q.prefix)),
            others_existing: list("x_others")?,
            same_content: list("x_same")?,
            deleted_same_content: row.try_get("x_deleted_same")?,
        })
    }

    async fn blob_referenced(&self, sha1: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 WHERE EXISTS (SELECT 1 FROM image WHERE img_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM oldimage WHERE oi_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM filearchive WHERE fa_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM uploadstash WHERE us_sha1 = ?1) \
             OR EXISTS (SELECT 1 FROM thumbnail WHERE th_sha1 = ?1)",
        )
        .bind(sha1)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn thumbnail(&self, source: &str, name: &str) -> Result<Option<Thumbnail>, StoreError> {
        let row = sqlx::query(
            "SELECT th_sha1, th_mime, th_width, th_height, th_size, th_timestamp FROM thumbnail \
             WHERE th_source = ?1 AND th_name = ?2",
        )
        .bind(source)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(Thumbnail {
            source: source.to_owned(),
            name: name.to_owned(),
            sha1: row.try_get("th_sha1")?,
            mime: row.try_get("th_mime")?,
            width: u32::try_from(row.try_get::<i64, _>("th_width")?).unwrap_or(0),
            height: u32::try_from(row.try_get::<i64, _>("th_height")?).unwrap_or(0),
            size: u64::try_from(row.try_get::<i64, _>("th_size")?).unwrap_or(0),
            timestamp: row.try_get("th_timestamp")?,
        }))
    }

    async fn put_thumbnail(&self, t: &Thumbnail) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT OR REPLACE INTO thumbnail \
             (th_source, th_name, th_sha1, th_mime, th_width, th_height, th_size, th_timestamp) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&t.source)
        .bind(&t.name)
        .bind(&t.sha1)
        .bind(&t.mime)
        .bind(i64::from(t.width))
        .bind(i64::from(t.height))
        .bind(i64::try_from(t.size).unwrap_or(i64::MAX))
        .bind(&t.timestamp)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn delete_orphan_thumbnails(&self, limit: u32) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM thumbnail WHERE rowid IN (SELECT rowid FROM thumbnail t \
             WHERE NOT EXISTS (SELECT 1 FROM image WHERE img_sha1 = t.th_source) \
             AND NOT EXISTS (SELECT 1 FROM oldimage WHERE oi_sha1 = t.th_source) \
             AND NOT EXISTS (SELECT 1 FROM uploadstash WHERE us_sha1 = t.th_source) LIMIT ?1)",
        )
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn delete_thumbnails(
        &self,
        source: &str,
        names: &(dyn for<'n> Fn(&'n str) -> bool + Sync),
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT th_name, th_sha1 FROM thumbnail WHERE th_source = ?1")
            .bind(source)
            .fetch_all(&self.pool)
            .await?;
        let mut blobs = Vec::new();
        for row in rows {
            let name: String = row.try_get("th_name")?;
            if !names(&name) {
                continue;
            }
            sqlx::query("DELETE FROM thumbnail WHERE th_source = ?1 AND th_name = ?2")
                .bind(source)
                .bind(&name)
                .execute(&self.pool)
                .await?;
            blobs.push(row.try_get("th_sha1")?);
        }
        Ok(blobs)
    }
}

#[async_trait]
impl LogRepo for SqliteRepo {
    async fn log_events(
        &self,
        log_type: Option<&str>,
        action: Option<&str>,
        older_first: bool,
        from: Option<(String, i64)>,
        limit: u32,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let mut sql = String::from("SELECT * FROM logging WHERE 1=1");
        if log_type.is_some() {
            sql.push_str(" AND log_type = ?");
        }
        if action.is_some() {
            sql.push_str(" AND log_action = ?");
        }
        if from.is_some() {
            sql.push_str(if older_first {
                " AND (log_timestamp > ? OR (log_timestamp = ? AND log_id >= ?))"
            } else {
                " AND (log_timestamp < ? OR (log_timestamp = ? AND log_id <= ?))"
            });
        }
        sql.push_str(if older_first {
            " ORDER BY log_timestamp ASC, log_id ASC LIMIT ?"
        } else {
            " ORDER BY log_timestamp DESC, log_id DESC LIMIT ?"
        });
        let mut q = sqlx::query(&sql);
        if let Some(t) = log_type {
            q = q.bind(t);
        }
        if let Some(a) = action {
            q = q.bind(a);
        }
        if let Some((ts, id)) = from {
            q = q.bind(ts.clone()).bind(ts).bind(id);
        }
        let rows = q.bind(limit as i64).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(log_from).collect::<Result<_, _>>()?)
    }
}

#[async_trait]
impl StashRepo for SqliteRepo {
    async fn stash_get(&self, key: &str) -> Result<Option<StashEntry>, StoreError> {
        let row = sqlx::query("SELECT * FROM uploadstash WHERE us_key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(stash_from).transpose()?)
    }

    async fn stash_list(
        &self,
        user_id: i64,
        from_id: i64,
        limit: u32,
    ) -> Result<Vec<StashEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM uploadstash WHERE us_user = ? AND us_id >= ? ORDER BY us_id LIMIT ?",
        )
        .bind(user_id)
        .bind(from_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stash_from).collect::<Result<_, _>>()?)
    }

    async fn stash_expired(&self, now: i64, limit: u32) -> Result<Vec<StashEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM uploadstash WHERE us_expires <= ? ORDER BY us_expires LIMIT ?",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(stash_from).collect::<Result<_, _>>()?)
    }

    async fn chunked_upload_exists(&self, key: &str) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 FROM uploadstash WHERE us_key = ? AND us_status <> 'finished'")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.is_some())
    }
}

#[async_trait]
impl JobRepo for SqliteRepo {
    async fn status(
        &self,
        user_id: i64,
        key: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT st_data FROM upload_status WHERE st_user = ? AND st_key = ? AND st_expires > ?",
        )
        .bind(user_id)
        .bind(key)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    async fn delete_expired_statuses(&self, now: i64) -> Result<u64, StoreError> {
        let mut w = self.writer.begin().await?;
        let r = sqlx::query("DELETE FROM upload_status WHERE st_expires <= ?")
            .bind(now)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(r.rows_affected())
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<Option<Job>, StoreError> {
        let mut w = self.writer.begin().await?;
        let row = sqlx::query(
            "UPDATE job SET job_owner = ?1, job_lease_until = ?2 + ?3, job_attempts = job_attempts + 1 \
             WHERE job_id = (SELECT job_id FROM job WHERE job_lease_until <= ?2 ORDER BY job_id LIMIT 1) \
             RETURNING *",
        )
        .bind(worker)
        .bind(now)
        .bind(lease_secs)
        .fetch_optional(w.conn()?)
        .await?;
        w.finish().await?;
        Ok(row.as_ref().map(job_from).transpose()?)
    }

    async fn renew_job(
        &self,
        id: i64,
        worker: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<(), StoreError> {
        let mut w = self.writer.begin().await?;
        let r = sqlx::query(
            "UPDATE job SET job_lease_until = ? WHERE job_id = ? AND job_owner = ? AND job_lease_until > ?",
        )
        .bind(now + lease_secs)
        .bind(id)
        .bind(worker)
        .bind(now)
        .execute(w.conn()?)
        .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::LeaseLost(id));
        }
        w.finish().await?;
        Ok(())
    }

    async fn release_job(&self, id: i64, worker: &str, retry_at: i64) -> Result<(), StoreError> {
        let mut w = self.writer.begin().await?;
        sqlx::query("UPDATE job SET job_lease_until = ? WHERE job_id = ? AND job_owner = ?")
            .bind(retry_at)
            .bind(id)
            .bind(worker)
            .execute(w.conn()?)
            .await?;
        w.finish().await?;
        Ok(())
    }
}

#[async_trait]
impl StatsRepo for SqliteRepo {
    async fn db_version(&self) -> Result<String, StoreError> {
        let row = sqlx::query("SELECT sqlite_version() AS v")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("v")?)
    }

    async fn stats(&self) -> Result<Stats, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM page) AS pages, (SELECT COUNT(*) FROM revision) AS edits, \
             (SELECT COUNT(*) FROM image) AS images, (SELECT COUNT(*) FROM user) AS users, \
             (SELECT COUNT(*) FROM user WHERE ',' || user_groups || ',' LIKE '%,sysop,%') AS admins",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Stats {
            pages: row.try_get::<i64, _>("pages")? as u64,
            edits: row.try_get::<i64, _>("edits")? as u64,
            images: row.try_get::<i64, _>("images")? as u64,
            users: row.try_get::<i64, _>("users")? as u64,
            admins: row.try_get::<i64, _>("admins")? as u64,
        })
    }
}
