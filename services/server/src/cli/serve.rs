//! `serve`: build the application and serve it until SIGTERM or Ctrl-C.

use std::process::ExitCode;

use anyhow::Context;
use server::config::Settings;
use std::sync::Arc;

use app::state::AppState;
use event_store::vault::Vault;
use event_store::{EventStore, LogNotifier};
use projections::{Projector, ProjectorConfig};
use server::http;
use tokio::sync::watch;

use super::database::{migrate, runtime_pool};

pub(crate) async fn serve(settings: Settings) -> anyhow::Result<ExitCode> {
    server::prom::install();
    if settings.migrate_on_start {
        migrate(settings.clone()).await?;
    }
    let pool = runtime_pool(&settings).await?;
    let vault = Vault::new(pool.clone(), settings.vault_master_key()?);
    let notifier = LogNotifier::start(pool.clone(), settings.poll_interval)
        .await
        .context("listening for new events")?;
    let projector = settings.run_projector.then(|| {
        let config = ProjectorConfig {
            batch_size: settings.projection_batch,
            review_period_days: settings.review_period_days,
            idle_poll: settings.poll_interval,
            on_batch: Some(Arc::new(|outcome, took| {
                metrics::histogram!("projection_batch_duration_seconds", "projection" => "all").record(took);
                for (model, took) in &outcome.timings {
                    metrics::histogram!("projection_batch_duration_seconds", "projection" => *model).record(*took);
                }
                for (phase, took) in &outcome.phases {
                    metrics::histogram!("projection_batch_phase_seconds", "phase" => *phase).record(*took);
                }
            })),
            ..ProjectorConfig::default()
        };
        let handle = Projector::new(pool.clone(), notifier.wake(), config).spawn();
        let stats = handle.stats.clone();
        tokio::spawn(async move {
            loop {
                let leader = if stats.is_leader() { 1.0 } else { 0.0 };
                metrics::gauge!("projector_leader").set(leader);
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        handle
    });
    let store = EventStore::new(pool.clone());
    // The notifier writes what the log calls for to the outbox; instances
    // take turns by the checkpoint's row lock.
    let (outbox_tx, outbox_rx) = watch::channel(0u64);
    let notifications = settings.run_projector.then(|| {
        app::notifier::spawn(
            pool.clone(),
            store.clone(),
            notifier.wake(),
            settings.poll_interval,
            outbox_tx,
        )
    });
    // The people directory's search index, kept from the log the same way.
    let directory = settings.run_projector.then(|| {
        app::directory::spawn(
            pool.clone(),
            store.clone(),
            vault.clone(),
            notifier.wake(),
            settings.poll_interval,
        )
    });
    let sender = match (settings.run_projector, settings.smtp_url()) {
        (true, Some(url)) => Some(
            app::mailer::spawn(
                pool.clone(),
                store.clone(),
                vault.clone(),
                notifier.wake(),
                outbox_rx.clone(),
                app::mailer::MailSettings {
                    smtp_url: url.to_owned(),
                    from: settings.mail_from.clone(),
                    app_url: settings.staff_app_url.clone(),
                    role_addresses: settings.mail_roles.clone(),
                    operations_address: settings.operations_email.clone(),
                    digest_time: settings.digest_time,
                    poll: std::time::Duration::from_secs(5),
                },
            )
            .map_err(|e| anyhow::anyhow!(e))?,
        ),
        _ => None,
    };
    // Every live subscriber of this process reads this one tail. The
    // listener wakes it on every commit and again after a reconnect; the
    // fallback poll only covers a notification the database never sent.
    let live = app::live::Live::start(
        store.clone(),
        notifier.wake(),
        settings.live_buffer,
        std::time::Duration::from_secs(30),
    );
    let live = Arc::new(live);
    let public = app::public_index::PublicIndex::start(
        pool.clone(),
        live.clone(),
        projections::public::ConfirmationPolicy {
            review_period_days: settings.review_period_days,
            grace_days: settings.confirmation_grace_days,
        },
    );
    let state = AppState {
        pool: pool.clone(),
        handler: app::commands::Handler::new(store.clone(), vault.clone()),
        store,
        vault,
        notifier: Arc::new(notifier),
        live,
        public,
        signer: settings.head_signer()?,
    };
    let background = app::jobs::spawn(
        &state,
        &app::jobs::JobSettings {
            head_sign_interval: settings.head_sign_interval,
            retention_interval: settings.retention_interval,
            retention_years: settings.retention_years,
            reminder_interval: if settings.run_projector {
                settings.reminder_interval
            } else {
                std::time::Duration::ZERO
            },
            review_period_days: settings.review_period_days,
            projection_stall: settings.projection_stall,
        },
    );
    // Webhook deliveries: sent by the instances that decide notifications.
    let webhook_sender = settings.run_projector.then(|| {
        app::webhooks::spawn(
            pool.clone(),
            state.handler.clone(),
            state.notifier.wake(),
            outbox_rx.clone(),
            settings.webhooks.clone(),
        )
    });
    let auth = server::auth::Authenticator::new(settings.auth_config()?)?;
    let api_settings = graphql::ApiSettings {
        read_wait: settings.read_wait,
        review_period_days: settings.review_period_days,
        policy_acknowledgement_days: settings.policy_acknowledgement_days,
        import_review_days: settings.import_review_days,
        council_name: settings.council_name.clone(),
        connections_per_request: settings.db_connections_per_request,
        query_timeout: settings.query_timeout,
    };
    let schema = graphql::build(Some((state.clone(), api_settings)));
    let http_config = http::HttpConfig {
        max_body_bytes: settings.max_body_bytes,
        graphiql: settings.environment == server::config::Environment::Development,
        cors_origins: settings.cors_origins.clone(),
        ws: settings.ws.clone(),
        request_timeout: settings.request_timeout,
    };
    let web = web::WebState {
        app: state.clone(),
        council_name: settings.council_name.clone(),
        reports: Arc::new(web::RateLimiter::new(
            settings.reports_per_hour,
            std::time::Duration::from_secs(3600),
        )),
        trusted_proxies: settings.trusted_proxies,
    };
    let staff = staff::StaffState {
        app: state.clone(),
        schema: schema.clone(),
        council_name: settings.council_name.clone(),
        sessions: settings.staff_sessions.clone(),
        oidc: settings
            .staff_oidc
            .clone()
            .map(|o| Arc::new(staff::oidc::Oidc::new(o))),
        dev_sign_in: settings.environment == server::config::Environment::Development,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = http::router(
        state,
        schema,
        auth,
        http_config,
        web,
        Some(staff),
        stop_rx.clone(),
    );

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("binding REGISTRY_LISTEN={}", settings.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, url = %format!("http://{address}/graphql"), "listening");

    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stop_tx.send(true);
    });
    let server = server::listen::serve(listener, app, settings.header_timeout, stop_rx.clone());
    let mut deadline = stop_rx;
    let grace = settings.shutdown_grace;
    tokio::select! {
        () = server => {},
        _ = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        } => tracing::warn!(grace_seconds = grace.as_secs(), "grace period over; closing the remaining connections"),
    }
    background.abort();
    if let Some(directory) = directory {
        directory.stop().await;
    }
    if let Some(notifications) = notifications {
        notifications.stop().await;
    }
    if let Some(sender) = sender {
        sender.stop().await;
    }
    if let Some(sender) = webhook_sender {
        sender.stop().await;
    }
    if let Some(projector) = projector {
        projector.stop().await;
    }
    pool.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
