//! `mwstore`: the server and its administration commands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

use mwstore_api::auth;
use mwstore_domain::config::Config;
use mwstore_storage::{BotPassword, SessionRepo, SqliteRepo, UserRepo};

mod bench_cmd;
mod serve;
mod upload_cmd;

#[derive(Parser)]
#[command(
    name = "mwstore",
    version,
    about = "A media repository server speaking the MediaWiki Action API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Data directory (database and files).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// TOML configuration file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Public base URL of the server ($wgServer), e.g. https://media.example.org
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage bot passwords.
    Botpassword {
        #[command(subcommand)]
        command: BotCommand,
    },
    /// Upload files to a MediaWiki API (mwstore or MediaWiki).
    Upload(upload_cmd::UploadArgs),
    /// Measure upload performance of a MediaWiki API (mwstore or MediaWiki).
    Bench(bench_cmd::BenchArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        name: String,
        /// Password (a random one is generated and printed when omitted).
        #[arg(long)]
        password: Option<String>,
        /// Groups, comma-separated (e.g. sysop,bureaucrat).
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Set a user's password (ends all the user's sessions).
    Passwd {
        name: String,
        /// New password (a random one is generated and printed when omitted).
        #[arg(long)]
        password: Option<String>,
        #[command(flatten)]
        common: Common,
    },
    /// List users.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// End all sessions of a user (main-account and bot-password ones).
    RevokeSessions {
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Subcommand)]
enum BotCommand {
    /// Create (or replace) the bot password USER@BOTNAME (replacing ends its sessions).
    Add {
        user: String,
        botname: String,
        /// Grants, comma-separated.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "basic,uploadfile,uploadeditmovefile,createeditmovepage,highvolume"
        )]
        grants: Vec<String>,
        /// Print {"lgname": ..., "lgpassword": ...}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        common: Common,
    },
    /// List the bot passwords of USER (app id, creation time, grants).
    List {
        user: String,
        #[command(flatten)]
        common: Common,
    },
    /// Remove the bot password USER@BOTNAME and end its sessions.
    Remove {
        user: String,
        botname: String,
        #[command(flatten)]
        common: Common,
    },
}

/// `MWSTORE_*` variables that are not settings: the log filter, fault injection, the password
/// `mwstore upload` and `mwstore bench` read by default, and anything of the test suite's.
/// Every other `MWSTORE_*` variable must name a setting, so that a typo is refused.
const NOT_SETTINGS: &[&str] = &["log", "faults", "password"];
const NOT_SETTINGS_PREFIXES: &[&str] = &["test_"];

/// Whether `key` (the variable's name after `MWSTORE_`, lower-cased) is not a setting.
fn not_a_setting(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    NOT_SETTINGS.contains(&key.as_str()) || NOT_SETTINGS_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// Defaults, then the TOML file, then `MWSTORE_*` variables, then flags.
fn load_config(
    common: &Common,
    listen: Option<String>,
    public_url: Option<String>,
) -> Result<Config> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    if let Some(path) = &common.config {
        if !path.exists() {
            bail!("configuration file {} does not exist", path.display());
        }
        fig = fig.merge(Toml::file(path));
    }
    fig = fig.merge(
        Env::prefixed("MWSTORE_")
            .filter(|key| !not_a_setting(key.as_str()))
            .split("__"),
    );
    if let Some(d) = &common.data_dir {
        fig = fig.merge(Serialized::default("data_dir", d));
    }
    if let Some(l) = listen {
        fig = fig.merge(Serialized::default("listen", l));
    }
    if let Some(u) = public_url {
        fig = fig.merge(Serialized::default("public_url", u));
    }
    let cfg: Config = fig
        .extract()
        .context("invalid configuration (unknown keys and bad values are refused)")?;
    cfg.validate()
        .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
    Ok(cfg)
}

async fn open_repo(data_dir: &Path) -> Result<SqliteRepo> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    SqliteRepo::open(&data_dir.join("mwstore.sqlite"))
        .await
        .context("cannot open the database")
}

fn now14() -> String {
    mwstore_storage::ts14(chrono_now())
}

fn chrono_now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

async fn user_command(cmd: UserCommand) -> Result<()> {
    match cmd {
        UserCommand::Add {
            name,
            password,
            groups,
            common,
        } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let name = auth::canonical_user_name(&name);
            if !auth::valid_user_name(&name) {
                bail!("invalid user name {name:?}");
            }
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (auth::generate_password(), true),
            };
            let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            let groups: Vec<String> = groups.into_iter().filter(|g| !g.is_empty()).collect();
            let u = repo.create_user(&name, &hash, &groups, &now14()).await?;
            println!("Created user {} (id {})", u.name, u.id);
            if generated {
                println!("Password: {password}");
            }
        }
        UserCommand::Passwd {
            name,
            password,
            common,
        } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let name = auth::canonical_user_name(&name);
            let Some(u) = repo.user_by_name(&name).await? else {
                bail!("no such user: {name}");
            };
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (auth::generate_password(), true),
            };
            let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            let ended = repo.set_password(u.id, &hash).await?;
            println!("Password of {} changed; {}", u.name, sessions_ended(ended));
            if generated {
                println!("Password: {password}");
            }
        }
        UserCommand::List { common } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            println!("{:>5}  {:<30} groups", "id", "name");
            for u in repo.list_users().await? {
                println!("{:>5}  {:<30} {}", u.id, u.name, u.groups.join(","));
            }
        }
        UserCommand::RevokeSessions { name, common } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let u = existing_user(&repo, &name).await?;
            let ended = repo.delete_user_sessions(u.id).await?;
            println!("{} of {}", capitalized(&sessions_ended(ended)), u.name);
        }
    }
    Ok(())
}

/// The user `name` (canonicalised), or an error naming it.
async fn existing_user(repo: &SqliteRepo, name: &str) -> Result<mwstore_storage::User> {
    let name = auth::canonical_user_name(name);
    match repo.user_by_name(&name).await? {
        Some(u) => Ok(u),
        None => bail!("no such user: {name}"),
    }
}

/// "ended 1 session", "ended 3 sessions".
fn sessions_ended(n: u64) -> String {
    format!("ended {n} session{}", if n == 1 { "" } else { "s" })
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

async fn bot_command(cmd: BotCommand) -> Result<()> {
    match cmd {
        BotCommand::Add {
            user,
            botname,
            grants,
            json,
            common,
        } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let policy = mwstore_domain::rights::RightsPolicy::from_config(&cfg);
            for g in &grants {
                if !policy.is_grant(g) {
                    bail!(
                        "unknown grant {g:?}; known grants: {}",
                        policy.grant_names().join(", ")
                    );
                }
            }
            if botname.is_empty()
                || botname.len() > 32
                || botname.contains('@')
                || botname.chars().any(char::is_control)
            {
                bail!("invalid bot name {botname:?}");
            }
            let name = auth::canonical_user_name(&user);
            let Some(u) = repo.user_by_name(&name).await? else {
                bail!("no such user: {name}");
            };
            let password = auth::generate_bot_password();
            let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
            let ended = repo
                .put_bot_password(&BotPassword {
                    user_id: u.id,
                    app_id: botname.clone(),
                    password_hash: hash,
                    grants: grants.clone(),
                    created: now14(),
                })
                .await?;
            let lgname = format!("{}@{}", u.name, botname);
            if json {
                println!(
                    "{}",
                    serde_json::json!({"lgname": lgname, "lgpassword": password})
                );
            } else {
                println!("Bot password created. Log in with:");
                println!("  lgname:     {lgname}");
                println!("  lgpassword: {password}");
                println!("  grants:     {}", grants.join(", "));
                if ended > 0 {
                    println!(
                        "The previous password is revoked: {}.",
                        sessions_ended(ended)
                    );
                }
            }
        }
        BotCommand::List { user, common } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let u = existing_user(&repo, &user).await?;
            let list = repo.bot_passwords(u.id).await?;
            if list.is_empty() {
                println!("{} has no bot passwords", u.name);
            } else {
                println!("{:<32} {:<20} grants", "app id", "created");
                for bp in list {
                    println!(
                        "{:<32} {:<20} {}",
                        bp.app_id,
                        mwstore_storage::ts14_to_iso(&bp.created),
                        bp.grants.join(",")
                    );
                }
            }
        }
        BotCommand::Remove {
            user,
            botname,
            common,
        } => {
            let cfg = load_config(&common, None, None)?;
            let repo = open_repo(&cfg.data_dir).await?;
            let u = existing_user(&repo, &user).await?;
            let Some(ended) = repo.delete_bot_password(u.id, &botname).await? else {
                bail!("no bot password {}@{botname}", u.name);
            };
            println!(
                "Removed bot password {}@{botname}; {}",
                u.name,
                sessions_ended(ended)
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MWSTORE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            common,
            listen,
            public_url,
        } => {
            let cfg = load_config(&common, listen, public_url)?;
            serve::run(cfg).await
        }
        Command::User { command } => user_command(command).await,
        Command::Botpassword { command } => bot_command(command).await,
        Command::Upload(args) => {
            let status = upload_cmd::run(args).await?;
            std::process::exit(status)
        }
        Command::Bench(args) => {
            let status = bench_cmd::run(args).await?;
            std::process::exit(status)
        }
    }
}
