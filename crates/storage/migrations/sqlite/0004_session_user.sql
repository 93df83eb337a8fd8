-- Sessions are ended by user (password change, `mwstore user revoke-sessions`) and by bot
-- password (replaced or removed).
CREATE INDEX session_user ON session (s_user, s_bot_app);
