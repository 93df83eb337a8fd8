//! Groups, rights and bot-password grants, with MediaWiki 1.39's defaults and the
//! configuration's overrides (`group_permissions`, `revoke_permissions`, `grant_permissions`).

use crate::config::Config;

type Table = Vec<(String, Vec<String>)>;

fn table(rows: &[(&str, &[&str])]) -> Table {
    rows.iter()
        .map(|(g, rs)| {
            (
                (*g).to_owned(),
                rs.iter().map(|r| (*r).to_owned()).collect(),
            )
        })
        .collect()
}

/// `$wgGroupPermissions` defaults (the groups and rights that matter to an upload server, in
/// MediaWiki's order).
pub fn default_group_permissions() -> Vec<(String, Vec<String>)> {
    table(&[
        (
            "*",
            &[
                "createaccount",
                "read",
                "edit",
                "createpage",
                "createtalk",
                "writeapi",
                "viewmywatchlist",
                "editmywatchlist",
                "viewmyprivateinfo",
                "editmyprivateinfo",
                "editmyoptions",
            ],
        ),
        (
            "user",
            &[
                "move",
                "move-subpages",
                "move-rootuserpages",
                "move-categorypages",
                "movefile",
                "read",
                "edit",
                "createpage",
                "createtalk",
                "writeapi",
                "upload",
                "reupload",
                "reupload-shared",
                "minoredit",
                "editmyusercss",
                "editmyuserjson",
                "editmyuserjs",
                "editmyuserjsredirect",
                "purge",
                "sendemail",
                "applychangetags",
                "changetags",
                "editcontentmodel",
            ],
        ),
        ("autoconfirmed", &["autoconfirmed", "editsemiprotected"]),
        (
            "bot",
            &[
                "bot",
                "autoconfirmed",
                "editsemiprotected",
                "nominornewtalk",
                "autopatrol",
                "suppressredirect",
                "apihighlimits",
                "writeapi",
            ],
        ),
        (
            "sysop",
            &[
                "block",
                "createaccount",
                "delete",
                "bigdelete",
                "deletedhistory",
                "deletedtext",
                "undelete",
                "editinterface",
                "editsitejson",
                "edituserjson",
                "import",
                "importupload",
                "move",
                "move-subpages",
                "move-rootuserpages",
                "move-categorypages",
                "patrol",
                "autopatrol",
                "protect",
                "editprotected",
                "rollback",
                "upload",
                "reupload",
                "reupload-shared",
                "unwatchedpages",
                "autoconfirmed",
                "editsemiprotected",
                "ipblock-exempt",
                "blockemail",
                "markbotedits",
                "apihighlimits",
                "browsearchive",
                "noratelimit",
                "movefile",
                "unblockself",
                "suppressredirect",
                "mergehistory",
                "managechangetags",
                "deletechangetags",
            ],
        ),
        (
            "interface-admin",
            &[
                "editinterface",
                "editsitecss",
                "editsitejson",
                "editsitejs",
                "editusercss",
                "edituserjson",
                "edituserjs",
            ],
        ),
        ("bureaucrat", &["userrights", "noratelimit"]),
        (
            "suppress",
            &[
                "hideuser",
                "suppressrevision",
                "viewsuppressed",
                "suppressionlog",
                "deleterevision",
                "deletelogentry",
            ],
        ),
    ])
}

/// `$wgGrantPermissions` defaults for the grants a bot password can hold.
pub fn default_grants() -> Vec<(String, Vec<String>)> {
    let editpage: &[&str] = &[
        "edit",
        "minoredit",
        "applychangetags",
        "changetags",
        "editcontentmodel",
    ];
    let mut createedit: Vec<&str> = editpage.to_vec();
    createedit.extend([
        "createpage",
        "createtalk",
        "delete-redirect",
        "move",
        "move-rootuserpages",
        "move-subpages",
        "move-categorypages",
        "suppressredirect",
    ]);
    let uploadfile: &[&str] = &["upload", "reupload-own"];
    let mut uploadedit: Vec<&str> = uploadfile.to_vec();
    uploadedit.extend([
        "reupload",
        "reupload-shared",
        "upload_by_url",
        "movefile",
        "suppressredirect",
    ]);
    table(&[
        (
            "basic",
            &[
                "autocreateaccount",
                "autoconfirmed",
                "autopatrol",
                "editsemiprotected",
                "ipblock-exempt",
                "nominornewtalk",
                "patrolmarks",
                "purge",
                "read",
                "skipcaptcha",
                "torunblocked",
                "writeapi",
            ],
        ),
        (
            "highvolume",
            &["bot", "apihighlimits", "noratelimit", "markbotedits"],
        ),
        ("editpage", editpage),
        ("createeditmovepage", &createedit),
        ("uploadfile", uploadfile),
        ("uploadeditmovefile", &uploadedit),
        ("editprotected", &["editprotected"]),
        (
            "delete",
            &[
                "delete",
                "bigdelete",
                "deletelogentry",
                "deleterevision",
                "deletedhistory",
                "deletedtext",
                "undelete",
                "browsearchive",
            ],
        ),
        ("protect", &["protect", "editprotected"]),
        ("rollback", &["rollback"]),
        (
            "viewdeleted",
            &["browsearchive", "deletedhistory", "deletedtext"],
        ),
        ("createaccount", &["createaccount"]),
        ("patrol", &["patrol"]),
    ])
}

/// The rights model in force: defaults merged with the configuration.
#[derive(Debug, Clone)]
pub struct RightsPolicy {
    groups: Table,
    revoked: Table,
    grants: Table,
}

fn merge(base: &mut Table, overrides: &crate::config::GroupPermissions) {
    for (group, rights) in overrides {
        let idx = match base.iter().position(|(g, _)| g == group) {
            Some(i) => i,
            None => {
                base.push((group.clone(), Vec::new()));
                base.len() - 1
            }
        };
        let list = &mut base[idx].1;
        for (right, on) in rights {
            let has = list.iter().position(|r| r == right);
            match (on, has) {
                (true, None) => list.push(right.clone()),
                (false, Some(i)) => {
                    list.remove(i);
                }
                _ => {}
            }
        }
    }
}

impl RightsPolicy {
    /// Builds the policy from the defaults and the configuration.
    pub fn from_config(cfg: &Config) -> Self {
        let mut groups = default_group_permissions();
        merge(&mut groups, &cfg.group_permissions);
        let mut revoked = Vec::new();
        merge(&mut revoked, &cfg.revoke_permissions);
        let mut grants = default_grants();
        merge(&mut grants, &cfg.grant_permissions);
        RightsPolicy {
            groups,
            revoked,
            grants,
        }
    }

    /// Implicit plus explicit groups of a user (`*` alone for anonymous users).
    pub fn effective_groups(&self, logged_in: bool, explicit: &[String]) -> Vec<String> {
        // Explicit groups first, then the implicit ones, as MediaWiki lists them.
        let mut out: Vec<String> = Vec::new();
        if logged_in {
            for g in explicit {
                if !out.contains(g) {
                    out.push(g.clone());
                }
            }
        }
        let implicit: &[&str] = if logged_in {
            &["*", "user", "autoconfirmed"]
        } else {
            &["*"]
        };
        for g in implicit {
            if !out.iter().any(|x| x == g) {
                out.push((*g).to_owned());
            }
        }
        out
    }

    /// Rights of a member of `groups`, limited to `grants` when the session came from a bot
    /// password.
    pub fn rights(&self, groups: &[String], grants: Option<&[String]>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in groups {
            if let Some((_, rs)) = self.groups.iter().find(|(name, _)| name == g) {
                for r in rs {
                    if !out.contains(r) {
                        out.push(r.clone());
                    }
                }
            }
        }
        for g in groups {
            if let Some((_, rs)) = self.revoked.iter().find(|(name, _)| name == g) {
                out.retain(|r| !rs.contains(r));
            }
        }
        if let Some(grants) = grants {
            let allowed = self.grant_rights(grants);
            out.retain(|r| allowed.contains(r));
        }
        out
    }

    /// Rights conferred by a set of grants.
    pub fn grant_rights(&self, grants: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in grants {
            if let Some((_, rs)) = self.grants.iter().find(|(name, _)| name == g) {
                for r in rs {
                    if !out.contains(r) {
                        out.push(r.clone());
                    }
                }
            }
        }
        out
    }

    /// Whether `grant` is a known grant name.
    pub fn is_grant(&self, grant: &str) -> bool {
        self.grants.iter().any(|(g, _)| g == grant)
    }

    /// All grant names.
    pub fn grant_names(&self) -> Vec<String> {
        self.grants.iter().map(|(g, _)| g.clone()).collect()
    }

    /// Explicit (non-implicit) groups that hold `right`, for "limited to users in the group"
    /// messages.
    pub fn groups_with_right(&self, right: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|(g, rs)| {
                rs.iter().any(|r| r == right)
                    && !self
                        .revoked
                        .iter()
                        .any(|(rg, rrs)| rg == g && rrs.iter().any(|r| r == right))
            })
            .map(|(g, _)| g.clone())
            .collect()
    }

    /// Every group with its rights (for `siteinfo&siprop=usergroups`).
    pub fn usergroups(&self) -> Vec<(String, Vec<String>)> {
        self.groups
            .iter()
            .map(|(g, _)| (g.clone(), self.rights(std::slice::from_ref(g), None)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn bot_password_rights_match_mediawiki() {
        // The reference wiki also grants upload_by_url to users.
        let mut cfg = Config::default();
        cfg.group_permissions
            .entry("user".into())
            .or_default()
            .insert("upload_by_url".into(), true);
        let p = RightsPolicy::from_config(&cfg);
        let groups = p.effective_groups(true, &[]);
        assert_eq!(groups, s(&["*", "user", "autoconfirmed"]));
        let grants = s(&[
            "basic",
            "uploadfile",
            "uploadeditmovefile",
            "createeditmovepage",
            "highvolume",
        ]);
        assert_eq!(
            p.rights(&groups, Some(&grants)),
            s(&[
                "read",
                "edit",
                "createpage",
                "createtalk",
                "writeapi",
                "move",
                "move-subpages",
                "move-rootuserpages",
                "move-categorypages",
                "movefile",
                "upload",
                "reupload",
                "reupload-shared",
                "minoredit",
                "purge",
                "applychangetags",
                "changetags",
                "editcontentmodel",
                "upload_by_url",
                "autoconfirmed",
                "editsemiprotected"
            ])
        );
        assert_eq!(
            p.rights(&groups, Some(&s(&["basic"]))),
            s(&[
                "read",
                "writeapi",
                "purge",
                "autoconfirmed",
                "editsemiprotected"
            ])
        );
    }

    #[test]
    fn defaults_keep_upload_by_url_from_everyone() {
        let p = RightsPolicy::from_config(&Config::default());
        let all = p.rights(
            &p.effective_groups(true, &s(&["sysop", "bureaucrat"])),
            None,
        );
        assert!(all.contains(&"upload".to_owned()));
        assert!(all.contains(&"delete".to_owned()));
        assert!(!all.contains(&"upload_by_url".to_owned()));
        let anon = p.rights(&p.effective_groups(false, &[]), None);
        assert!(!anon.contains(&"upload".to_owned()));
        assert!(anon.contains(&"edit".to_owned()));
    }

    #[test]
    fn revoke_and_config_overrides() {
        let mut cfg = Config::default();
        cfg.revoke_permissions
            .entry("user".into())
            .or_default()
            .insert("upload".into(), true);
        let p = RightsPolicy::from_config(&cfg);
        let r = p.rights(&p.effective_groups(true, &[]), None);
        assert!(!r.contains(&"upload".to_owned()));
        assert_eq!(p.groups_with_right("upload"), s(&["sysop"]));
    }
}
