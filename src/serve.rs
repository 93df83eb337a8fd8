//! `mwstore serve`: the server facing the network.

use std::sync::Arc;

use anyhow::{Context, Result};
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use mwstore_api::auth;
use mwstore_api::http::server::FrontDoor;
use mwstore_domain::config::Config;
use mwstore_storage::{FullRepo, LocalStore, StatsRepo, UserRepo};

use crate::{now14, open_repo};

pub async fn run(cfg: Config) -> Result<()> {
    let open_files = raise_open_files_limit();
    let metrics = install_metrics()?;
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
    if let Some(scanner) = &state.antivirus {
        println!(
            "virus scanning: clamd at {}, {} s per scan, {} at once; a failed scan {}",
            scanner.endpoint(),
            cfg.clamav_timeout,
            cfg.clamav_max_scans,
            if cfg.clamav_required {
                "refuses the upload (clamav_required)"
            } else {
                "lets it through unscanned"
            }
        );
        let state = state.clone();
        tokio::spawn(async move {
            if let Some(scanner) = &state.antivirus {
                if let Err(e) = scanner.ping().await {
                    tracing::warn!(scanner = %scanner.endpoint(), error = %e, "clamd does not answer PING");
                }
            }
        });
    }
    mwstore_api::housekeeping::spawn(
        state.clone(),
        std::time::Duration::from_secs(cfg.sweep_interval),
    );
    if cfg.run_jobs {
        mwstore_api::jobs::runner::spawn(state.clone());
    } else {
        println!("Upload jobs are held (run_jobs = false): async uploads stay queued.");
    }
    let mut app = mwstore_api::router(state);
    match cfg.metrics_listen.as_str() {
        "" => app = app.merge(metrics_router(metrics)),
        "off" => {}
        addr => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for /metrics"))?;
            let router = metrics_router(metrics);
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            println!("metrics at http://{addr}/metrics");
        }
    }
    let app = app.layer(tower_http::trace::TraceLayer::new_for_http());
    let limits = FrontDoor::from_config(&cfg, open_files);
    println!(
        "mwstore listening on {server}/w/api.php (data in {})",
        cfg.data_dir.display()
    );
    println!(
        "limits: open files {}, connections {} ({} per address), header timeout {} s, body timeout {} s, keep-alive {} s",
        open_files.map_or("unknown".into(), |n| n.to_string()),
        limits.max_connections,
        limits.max_connections_per_address,
        cfg.request_header_timeout,
        cfg.request_body_timeout,
        cfg.keepalive_timeout,
    );
    mwstore_api::http::server::serve(listener, app, limits, shutdown()).await?;
    Ok(())
}

/// Raises the soft limit on open files to the hard limit, and returns the soft limit the
/// server runs with.
fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE)
                .ok()
                .map(|(soft, _)| soft)
        }
    }
}

/// The Prometheus recorder behind every `metrics::` call of the server.
fn install_metrics() -> Result<PrometheusHandle> {
    const SECONDS: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        300.0,
    ];
    let handle = PrometheusBuilder::new()
        .set_buckets(SECONDS)
        .context("metrics buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    // Histograms are compacted by an upkeep task.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn metrics_router(handle: PrometheusHandle) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
            }
        }),
    )
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
