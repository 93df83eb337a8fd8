//! `mwstore serve`: the server facing the network.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};

use mwstore_api::auth;
use mwstore_domain::config::Config;
use mwstore_storage::{FullRepo, LocalStore, StatsRepo, UserRepo};

use crate::{now14, open_repo};

pub async fn run(cfg: Config) -> Result<()> {
    let repo = open_repo(&cfg.data_dir).await?;
    if repo.list_users().await?.is_empty() {
        let password = auth::generate_password();
        let hash = auth::hash_password(&password).map_err(anyhow::Error::msg)?;
        repo.create_user(
            "Admin",
            &hash,
            &["sysop".into(), "bureaucrat".into()],
            &now14(),
        )
        .await?;
        println!("Created user Admin (sysop, bureaucrat) with password: {password}");
        println!("It is shown only once; change it with `mwstore user passwd Admin`.");
    }
    let store = Arc::new(LocalStore::open(&cfg.data_dir).await?);
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let server = if cfg.public_url.is_empty() {
        format!("http://{addr}")
    } else {
        cfg.public_url.clone()
    };
    let db_version = repo.db_version().await?;
    let repo: Arc<dyn FullRepo> = Arc::new(repo);
    let state = Arc::new(mwstore_api::AppState::new(
        cfg.clone(),
        mwstore_api::Backends::local(repo, store),
        server.clone(),
        db_version,
    ));
    mwstore_api::housekeeping::spawn(
        state.clone(),
        std::time::Duration::from_secs(cfg.sweep_interval),
    );
    if cfg.run_jobs {
        mwstore_api::jobs::runner::spawn(state.clone());
    } else {
        println!("Upload jobs are held (run_jobs = false): async uploads stay queued.");
    }
    let app = mwstore_api::router(state).layer(tower_http::trace::TraceLayer::new_for_http());
    println!(
        "mwstore listening on {server}/w/api.php (data in {})",
        cfg.data_dir.display()
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
