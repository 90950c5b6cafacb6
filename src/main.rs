//! The `rft-users` binary: parse configuration, start tracing, run a subcommand.

use anyhow::Context;
use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use migration::{Migrator, MigratorTrait};
use rft_users::{
    app::Application,
    config::{AppConfig, Cli, Command, CreateAdminArgs, DbArgs, MigrateAction, ServeArgs},
    db, graphql,
    services::{audit::Actor, bootstrap, customer_stats, demo, duplicates},
};
use tracing_subscriber::EnvFilter;

// GraphQL execution allocates many small, short-lived objects across threads; mimalloc
// handles that far better than the system allocator (see the README's benchmark notes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Serve(args)) => serve(args).await,
        Some(Command::Migrate {
            db: db_args,
            action,
        }) => {
            let db = db::connect(&db_args.resolve_url()?, 2).await?;
            match action {
                MigrateAction::Up => db::migrate(&db).await?,
                MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
                MigrateAction::Status => Migrator::status(&db).await?,
            }
            Ok(())
        }
        Some(Command::CreateAdmin(args)) => create_admin(args).await,
        Some(Command::ExportSchema) => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Some(Command::VerifyStats { db: db_args, fix }) => verify_stats(&db_args, fix).await,
        Some(Command::RescanDuplicates { db: db_args }) => rescan_duplicates(&db_args).await,
    }
}

/// `rescan-duplicates`: rebuilds keys and pairs with a progress bar (drawn only on a
/// terminal), then prints a summary.
async fn rescan_duplicates(db_args: &DbArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let db = db::connect(&db_args.resolve_url()?, 2).await?;
    Migrator::up(&db, None).await?;
    let target = if std::io::stdout().is_terminal() {
        ProgressDrawTarget::stdout()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(None, target);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {percent}% ({elapsed}, {eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("Keys, then pairs");
    let started = std::time::Instant::now();
    let progress = bar.clone();
    let summary = duplicates::rescan(&db, &mut move |done, total| {
        progress.set_length(total);
        progress.set_position(done);
    })
    .await
    .map_err(|e| anyhow::anyhow!("could not rescan for duplicates: {e}"))?;
    bar.finish_and_clear();
    println!(
        "Rescanned {} users in {:.1}s: {} blocked pairs scored, {} stored as likely duplicates \
         (score at least {}), {} dismissed pairs kept.",
        summary.users,
        started.elapsed().as_secs_f64(),
        summary.compared,
        summary.pairs,
        duplicates::STORED_MIN_SCORE,
        summary.dismissed,
    );
    Ok(())
}

/// `verify-stats [--fix]`: prints each customer whose counters differ (id and fields only),
/// and exits 1 when any differ, unless `--fix` repaired them.
async fn verify_stats(db_args: &DbArgs, fix: bool) -> anyhow::Result<()> {
    let db = db::connect(&db_args.resolve_url()?, 2).await?;
    let found = if fix {
        customer_stats::repair(&db, &Actor::system()).await
    } else {
        customer_stats::diff(&db).await
    }
    .map_err(|e| anyhow::anyhow!("could not check the customer counters: {e}"))?;
    for m in &found {
        let fields: Vec<String> = m
            .fields()
            .iter()
            .map(|(field, stored, expected)| {
                format!("{field} stored {stored}, expected {expected}")
            })
            .collect();
        let verb = if fix { "repaired" } else { "differs" };
        println!("{} {verb}: {}", m.user_id, fields.join("; "));
    }
    match (found.len(), fix) {
        (0, _) => println!("All customer counters match the facts."),
        (n, true) => println!("Repaired the counters of {n} customer(s)."),
        (n, false) => {
            println!("{n} customer(s) have counters that differ; run with --fix to repair them.");
            db.close().await.ok();
            std::process::exit(1);
        }
    }
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = AppConfig::from_serve_args(&args)?;
    let app = Application::build(config, args.bind)
        .await
        .context("could not start")?;
    let db = &app.state.db;
    match bootstrap::ensure_admin(db, &args.admin_email, args.admin_password.as_ref()).await {
        Ok(bootstrap::AdminOutcome::Created {
            email,
            generated_password,
        }) => {
            println!("Created the bootstrap admin: {email}");
            if let Some(password) = generated_password {
                println!("  password (shown once, change it after logging in): {password}");
            }
        }
        Ok(bootstrap::AdminOutcome::Existing) => {}
        Err(e) => anyhow::bail!("could not create the bootstrap admin: {e}"),
    }
    if !args.no_demo_data {
        match demo::seed_if_empty(db).await {
            Ok(Some(summary)) => println!("{summary}"),
            Ok(None) => {}
            Err(e) => anyhow::bail!("could not seed demo data: {e}"),
        }
    }
    let addr = app.local_addr()?;
    println!("rft-users is listening: GraphiQL at http://{addr}/graphql");
    tracing::info!(%addr, "serving");
    app.run_until_stopped().await?;
    Ok(())
}

async fn create_admin(args: CreateAdminArgs) -> anyhow::Result<()> {
    let db = db::connect(&args.db.resolve_url()?, 2).await?;
    db::migrate(&db).await?;
    let (email, generated) = bootstrap::create_or_reset_admin(
        &db,
        &args.email,
        args.password.as_ref(),
        &args.first_name,
        &args.last_name,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("Admin ready: {email}");
    if let Some(password) = generated {
        println!("  password (shown once): {password}");
    }
    Ok(())
}
