//! The `rft-users` binary: parse configuration, start tracing, run a subcommand.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use migration::{Migrator, MigratorTrait};
use rft_users::{
    app::Application,
    config::{
        AppConfig, Cli, Command, CreateAdminArgs, DbArgs, ImportLegacyArgs, LogFormat,
        MigrateAction, ServeArgs,
    },
    db,
    error::AppError,
    graphql,
    services::{audit::Actor, bootstrap, customer_stats, demo, duplicates, legacy_import},
    telemetry,
};

// GraphQL execution allocates many small, short-lived objects across threads; mimalloc
// handles that far better than the system allocator (see the README's benchmark notes).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A configuration or start-up error is one line on stderr, naming the variable, path or
/// address it is about (`rft-users: RFT_METRICS_BIND (--metrics-bind): …`), and exit 1.
#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return bad_argument(e),
    };
    telemetry::init_logs(cli.log_format);
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rft-users: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let console = Console(cli.log_format);
    match cli.command {
        None => serve(cli.serve, console).await,
        Some(Command::Serve(args)) => serve(*args, console).await,
        Some(Command::Migrate {
            db: db_args,
            action,
        }) => {
            let db = open(&db_args).await?;
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
        Some(Command::ImportLegacy(args)) => import_legacy(args).await,
        Some(Command::RefreshInsights { db, as_of }) => refresh_insights(&db, as_of).await,
        Some(Command::SendRenewalReminders {
            db,
            within_days,
            public_url,
        }) => send_renewal_reminders(&db, within_days, &public_url).await,
        Some(Command::ApplyRetention { db, dry_run }) => apply_retention(&db, dry_run).await,
        Some(Command::RotateKeys { db, dry_run, batch }) => rotate_keys(&db, dry_run, batch).await,
    }
}

/// `rotate-keys [--dry-run] [--batch N]`: re-encrypts every value not under the active
/// data key, with a progress bar on a terminal, and prints a summary.
async fn rotate_keys(db_args: &DbArgs, dry_run: bool, batch: u64) -> anyhow::Result<()> {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use rft_users::services::encryption::{self, Scope};
    use std::io::IsTerminal;

    let db = open(db_args).await?;
    db::migrate(&db).await?;
    let todo = encryption::rows_to_do(&db, Scope::NotUnderActiveKey)
        .await
        .map_err(|e| anyhow::anyhow!("could not count the rows to re-encrypt: {}", describe(&e)))?;
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(todo), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows, ETA {eta}",
    )?);
    let run = encryption::reseal(&db, Scope::NotUnderActiveKey, batch, dry_run, |done| {
        bar.set_position(done)
    })
    .await
    .map_err(|e| anyhow::anyhow!("could not re-encrypt: {}", describe(&e)))?;
    bar.finish_and_clear();
    let from: Vec<String> = run
        .from_keys
        .iter()
        .map(|(kid, n)| format!("{n} under `{kid}`"))
        .chain((run.plaintext > 0).then(|| format!("{} in plaintext", run.plaintext)))
        .collect();
    println!(
        "{} values in {} rows {} under the active key `{}`{}.",
        run.values(),
        todo,
        if dry_run {
            "would be re-encrypted"
        } else {
            "re-encrypted"
        },
        run.active_kid,
        if from.is_empty() {
            String::new()
        } else {
            format!(" ({})", from.join(", "))
        },
    );
    for (column, n) in &run.resealed {
        println!("  {column}: {n}");
    }
    if !dry_run {
        println!(
            "Every encrypted value is now under `{}`; keys no longer named by any value can be removed from RFT_DATA_KEYS.",
            run.active_kid
        );
    }
    db.close().await.ok();
    Ok(())
}

/// `apply-retention [--dry-run]`: removes what erased customers' records kept once its
/// period has ended, and prints a summary.
async fn apply_retention(db_args: &DbArgs, dry_run: bool) -> anyhow::Result<()> {
    use rft_users::services::privacy;
    let db = open(db_args).await?;
    db::migrate(&db).await?;
    let today = chrono::Utc::now().date_naive();
    let run = privacy::apply_retention(&db, &Actor::system(), today, dry_run)
        .await
        .map_err(|e| anyhow::anyhow!("could not apply the retention periods: {}", describe(&e)))?;
    println!(
        "{} erased customers checked: {} expired certificates' holder and number {}, {} \
         customers' financial records past 6 years {}.",
        run.people,
        run.certificates,
        if dry_run {
            "would be removed"
        } else {
            "removed"
        },
        run.financial_records,
        if dry_run {
            "would be cleared"
        } else {
            "cleared"
        },
    );
    db.close().await.ok();
    Ok(())
}

/// `send-renewal-reminders --within-days N`: queues the reminders (as
/// `sendRenewalReminders` does) and says how many; the server's mail worker sends them.
async fn send_renewal_reminders(
    db_args: &DbArgs,
    within_days: i32,
    public_url: &str,
) -> anyhow::Result<()> {
    use rft_users::services::email::{Outbox, reminders};
    let outbox = Outbox::new(&rft_users::config::public_url(public_url)?);
    let db = open(db_args).await?;
    db::migrate(&db).await?;
    let today = chrono::Utc::now().date_naive();
    let run = reminders::send(&db, &outbox, &Actor::system(), today, within_days)
        .await
        .map_err(|e| anyhow::anyhow!("could not queue the renewal reminders: {}", describe(&e)))?;
    println!(
        "Renewal reminders for certificates expiring within {} days: {} queued, {} already \
         queued for this window. The server's mail worker sends them.",
        run.within_days, run.queued, run.already_queued
    );
    db.close().await.ok();
    Ok(())
}

/// `refresh-insights [--as-of DATE]`: refits and stores the insights, and prints the fit.
async fn refresh_insights(
    db_args: &DbArgs,
    as_of: Option<chrono::NaiveDate>,
) -> anyhow::Result<()> {
    use rft_users::services::insights::refresh;
    let db = open(db_args).await?;
    Migrator::up(&db, None).await?;
    let saved = refresh::refresh_from_cli(&db, as_of)
        .await
        .map_err(|e| anyhow::anyhow!("could not refresh the insights: {e}"))?;
    let fit: refresh::ModelFit = serde_json::from_value(saved.fit.clone())?;
    println!(
        "Insights as of {}: {} customers scored in {} ms.",
        saved.as_of, saved.customers, saved.duration_ms
    );
    match &fit.repeat {
        Some(f) => println!(
            "Repeat bookings (BG/NBD): r={:.4} alpha={:.4} a={:.4} b={:.4}, log-likelihood {:.1} over {} customers.",
            f.params.r, f.params.alpha, f.params.a, f.params.b, f.log_likelihood, f.sample_size
        ),
        None => println!(
            "Repeat bookings: not fitted ({}).",
            fit.repeat_error.as_deref().unwrap_or("no data")
        ),
    }
    for r in &fit.renewal.rates {
        println!(
            "Renewals {:?}/{:?}: {} of {} certificates renewed.",
            r.course_type, r.customer_type, r.renewed, r.eligible
        );
    }
    if let Some(b) = &fit.backtest {
        println!(
            "Backtest over {} months, {} customers: predicted {:.1} bookings, actual {} ({:+.1}%); mean absolute error {:.3} bookings per customer.",
            b.months,
            b.customers,
            b.predicted_bookings,
            b.actual_bookings,
            if b.actual_bookings > 0 {
                100.0 * (b.predicted_bookings - b.actual_bookings as f64) / b.actual_bookings as f64
            } else {
                0.0
            },
            b.bookings_mean_absolute_error
        );
    }
    Ok(())
}

/// `import-legacy FILE [--dry-run] [--source NAME] [--report FILE.csv]`: checks the file,
/// imports it with a progress bar, prints what became of every row, and exits 0 once every
/// row is accounted for (failed rows included); non-zero only when the run could not finish.
async fn import_legacy(args: ImportLegacyArgs) -> anyhow::Result<()> {
    use anyhow::Context;
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
    let url = args.db.resolve_url()?;
    args.db.install_data_keys(&url)?;
    let db = db::connect_batch(&url).await?;
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
    let secret = rft_users::config::resolve_jwt_secret(
        args.jwt_secret.as_ref(),
        &args.db,
        &args.db.resolve_url()?,
    )?;
    let options = legacy_import::Options {
        source: args.source.clone(),
        dry_run: args.dry_run,
        chunk_size: args.chunk_size,
        hasher: rft_users::auth::rate_limit::RateLimiter::new(&secret),
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

/// Messages for the operator at the console: stdout with text logs; stderr with JSON logs,
/// so that stdout holds only JSON lines.
#[derive(Clone, Copy)]
struct Console(LogFormat);

impl Console {
    fn say(self, message: &str) {
        match self.0 {
            LogFormat::Text => println!("{message}"),
            LogFormat::Json => eprintln!("{message}"),
        }
    }
}

/// An argument or environment variable clap refused: one line naming both. Help, version
/// and usage errors are clap's own.
fn bad_argument(e: clap::Error) -> ExitCode {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        e.exit();
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    // "--metrics-bind <METRICS_BIND>"
    let flag = text(ContextKind::InvalidArg).unwrap_or_default();
    let long = flag
        .trim_start_matches('-')
        .split([' ', '='])
        .next()
        .unwrap_or_default()
        .to_string();
    let arg = find_arg(&Cli::command(), &long);
    let name = match arg.as_ref().and_then(|(env, _)| env.clone()) {
        Some(env) => format!("{env} (--{long})"),
        None => format!("--{long}"),
    };
    let hidden = arg.is_some_and(|(_, hidden)| hidden);
    let value = text(ContextKind::InvalidValue)
        .filter(|_| !hidden)
        .map(|v| format!(" {v:?}"))
        .unwrap_or_default();
    let reason = match (
        std::error::Error::source(&e),
        e.get(ContextKind::ValidValue),
    ) {
        (Some(source), _) => format!(": {source}"),
        (None, Some(ContextValue::Strings(valid))) => format!(" (expected {})", valid.join(" or ")),
        _ => String::new(),
    };
    let message = if reason.contains(&value.trim().to_string()) && !value.is_empty() {
        format!("{name}{reason}")
    } else {
        format!("{name}: invalid value{value}{reason}")
    };
    eprintln!("rft-users: {}", one_line(&message));
    ExitCode::from(2)
}

/// The environment variable of the argument `--long`, and whether its value is secret.
fn find_arg(command: &clap::Command, long: &str) -> Option<(Option<String>, bool)> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .map(|a| {
            let env = a.get_env().map(|v| v.to_string_lossy().into_owned());
            (env, a.is_hide_env_values_set())
        })
        .or_else(|| {
            command
                .get_subcommands()
                .find_map(|sub| find_arg(sub, long))
        })
}

/// An error and its causes on one line, each cause once (sqlx repeats its cause in its own
/// message).
fn error_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
    }
    one_line(&parts.join(": "))
}

/// Joins a multi-line message into one line.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens the database of a maintenance command, naming it on failure.
async fn open(db_args: &DbArgs) -> anyhow::Result<sea_orm::DatabaseConnection> {
    use anyhow::Context;
    let url = db_args.resolve_url()?;
    db_args.install_data_keys(&url)?;
    db::connect(&url, 2).await.with_context(|| {
        format!(
            "DATABASE_URL: cannot open the database {}",
            rft_users::config::describe_database(&url)
        )
    })
}

/// An error from a service, for an operator: the cause of an internal one, and the
/// variable behind a refused bootstrap email or password.
fn describe(e: &AppError) -> String {
    match e {
        AppError::Internal(cause) | AppError::Unavailable(cause) => format!("{cause:#}"),
        AppError::BadUserInput { field, message } if field == "email" => {
            format!("RFT_ADMIN_EMAIL: {message}")
        }
        AppError::BadUserInput { field, message } if field == "password" => {
            format!("RFT_ADMIN_PASSWORD: {message}")
        }
        other => other.to_string(),
    }
}

/// `rescan-duplicates`: rebuilds keys and pairs with a progress bar (drawn only on a
/// terminal), then prints a summary.
async fn rescan_duplicates(db_args: &DbArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let db = open(db_args).await?;
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
    let db = open(db_args).await?;
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

async fn serve(args: ServeArgs, console: Console) -> anyhow::Result<()> {
    let config = AppConfig::from_serve_args(&args)?;
    let app = Application::build(config, args.bind).await?;
    let db = &app.state.db;
    match bootstrap::ensure_admin(db, &args.admin_email, args.admin_password.as_ref()).await {
        Ok(bootstrap::AdminOutcome::Created {
            user_id,
            generated_password,
        }) => {
            console.say(&format!(
                "Created the bootstrap admin {user_id}: log in with RFT_ADMIN_EMAIL \
                 (default admin@reactfasttraining.co.uk)"
            ));
            if let Some(password) = generated_password {
                console.say(&format!(
                    "  password (shown once, change it after logging in): {password}"
                ));
            }
        }
        Ok(bootstrap::AdminOutcome::Existing) => {}
        Err(e) => anyhow::bail!("could not create the bootstrap admin: {}", describe(&e)),
    }
    if !args.no_demo_data {
        match demo::seed_if_empty(db).await {
            Ok(Some(summary)) => console.say(&summary.to_string()),
            Ok(None) => {}
            Err(e) => anyhow::bail!("could not seed demo data: {}", describe(&e)),
        }
    }
    let addr = app.local_addr()?;
    console.say(&format!(
        "rft-users is listening: GraphiQL at http://{addr}/graphql"
    ));
    let metrics = app.metrics_addr();
    if let Some(metrics) = metrics {
        console.say(&format!("Prometheus metrics at http://{metrics}/metrics"));
    }
    tracing::info!(%addr, metrics = metrics.map(tracing::field::display), "serving");
    app.run_until_stopped().await?;
    Ok(())
}

async fn create_admin(args: CreateAdminArgs) -> anyhow::Result<()> {
    let db = open(&args.db).await?;
    db::migrate(&db).await?;
    let ready = bootstrap::create_or_reset_admin(
        &db,
        &args.email,
        args.password.as_ref(),
        &args.first_name,
        &args.last_name,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    // An interactive command: the operator typed the email, so it is shown back.
    println!("Admin ready: {} ({})", ready.email, ready.user_id);
    if let Some(password) = ready.generated_password {
        println!("  password (shown once): {password}");
    }
    Ok(())
}
