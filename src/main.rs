//! The `rft-users` binary: parse configuration, start tracing, run a subcommand.

use anyhow::Context;
use clap::Parser;
use migration::{Migrator, MigratorTrait};
use rft_users::{
    app::Application,
    config::{
        AppConfig, Cli, Command, CreateAdminArgs, DbArgs, ImportLegacyArgs, MigrateAction,
        ServeArgs,
    },
    db, graphql,
    services::{audit::Actor, bootstrap, customer_stats, demo, legacy_import},
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
                MigrateAction::Up => Migrator::up(&db, None).await?,
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
        Some(Command::ImportLegacy(args)) => import_legacy(args).await,
    }
}

/// `import-legacy FILE [--dry-run] [--source NAME] [--report FILE.csv]`: checks the file,
/// imports it with a progress bar, prints what became of every row, and exits 0 once every
/// row is accounted for (failed rows included); non-zero only when the run could not finish.
async fn import_legacy(args: ImportLegacyArgs) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;

    let path = args.file.clone();
    let checked = tokio::task::spawn_blocking(move || legacy_import::check_file(&path))
        .await?
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    println!(
        "{}: {} rows, {} bytes, sha256 {}",
        args.file.display(),
        checked.rows,
        checked.bytes,
        checked.sha256
    );
    let db = db::connect_batch(&args.db.resolve_url()?).await?;
    db::migrate(&db).await?;

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(checked.rows), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows, {rows_per_sec}, ETA {eta}",
        )?
        .with_key(
            "rows_per_sec",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0} rows/s", state.per_sec());
            },
        ),
    );
    let options = legacy_import::Options {
        source: args.source.clone(),
        dry_run: args.dry_run,
        chunk_size: args.chunk_size,
    };
    let mut first = true;
    let outcome = legacy_import::run(&db, &args.file, &checked, &options, |p| {
        bar.set_position(p.done);
        if first {
            // Rows an earlier run accounted for do not count towards the rate.
            bar.reset_eta();
            first = false;
        }
    })
    .await;
    bar.finish_and_clear();
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            db.close().await.ok();
            anyhow::bail!("the import did not finish: {e}");
        }
    };
    let job = &outcome.job;
    if let Some(report) = &args.report {
        let file = std::fs::File::create(report)
            .with_context(|| format!("cannot write {}", report.display()))?;
        let written = legacy_import::write_report(&db, job.id, &[], std::io::BufWriter::new(file))
            .await
            .map_err(|e| anyhow::anyhow!("could not write the report: {e}"))?;
        println!("Report: {} ({written} rows)", report.display());
    }
    print_import_summary(&outcome, args.dry_run);
    db.close().await.ok();
    Ok(())
}

fn print_import_summary(outcome: &legacy_import::Outcome, dry_run: bool) {
    let job = &outcome.job;
    let width = 12;
    println!(
        "{} job {} (source {:?}){}:",
        if dry_run { "Dry run:" } else { "Import" },
        job.id,
        job.source,
        match outcome.resumed_rows {
            0 => String::new(),
            n => format!(", resumed after {n} rows done by an earlier, interrupted run"),
        }
    );
    for (label, n) in [
        ("created", job.created_count),
        ("updated", job.updated_count),
        ("unchanged", job.unchanged_count),
        ("skipped", job.skipped_count),
        ("failed", job.failed_count),
    ] {
        println!("  {label:<width$}{n:>8}");
    }
    let sum = job.rows_done();
    println!(
        "  {:<width$}{:>8} = {} + {} + {} + {} + {}: {}",
        "rows in file",
        job.rows_in_file,
        job.created_count,
        job.updated_count,
        job.unchanged_count,
        job.skipped_count,
        job.failed_count,
        if sum == job.rows_in_file {
            "every row accounted for"
        } else {
            "ROWS MISSING"
        }
    );
    println!(
        "  customers created: {}; sessions created: {}",
        job.customers_created, job.sessions_created
    );
    if job.venues_created > 0 {
        let names = if outcome.venues_created.is_empty() {
            String::new()
        } else {
            format!(": {}", outcome.venues_created.join(", "))
        };
        println!(
            "  venues not in the catalogue, created inactive: {}{names}",
            job.venues_created
        );
    }
    if job.failed_count > 0 {
        println!(
            "  failed rows, with their reasons: GET /imports/{}/rows.csv?status=FAILED, or --report",
            job.id
        );
    }
    if dry_run {
        println!("Dry run: nothing was written except this job's record and its rows' report.");
    }
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
