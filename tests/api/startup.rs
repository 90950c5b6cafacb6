//! Starting the real binary as a user would, from a fresh working directory.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_custom_sqlite_path_starts_with_its_secret_beside_the_database() {
    let work = tempfile::tempdir().unwrap();
    // Neither `./data` nor the database's directory exists yet.
    let db_file = work.path().join("elsewhere").join("nested").join("x.db");
    let url = format!("sqlite://{}?mode=rwc", db_file.display());
    assert!(url.starts_with("sqlite:///"), "{url}");
    let port = free_port();
    let log = work.path().join("server.log");
    let log_file = File::create(&log).unwrap();
    let mut server = Server(
        Command::new(env!("CARGO_BIN_EXE_rft-users"))
            .current_dir(work.path())
            .args(["serve", "--no-demo-data", "--bind"])
            .arg(format!("127.0.0.1:{port}"))
            .env_remove("RFT_JWT_SECRET")
            .env_remove("RFT_DATA_DIR")
            .env("DATABASE_URL", &url)
            .env("RFT_ADMIN_PASSWORD", "a-long-enough-password")
            .env("RUST_LOG", "warn")
            .env("RFT_METRICS_BIND", "127.0.0.1:0")
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap(),
    );
    let output = |log: &Path| std::fs::read_to_string(log).unwrap_or_default();

    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            panic!("the server exited ({status}):\n{}", output(&log));
        }
        let health = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the server did not answer /healthz:\n{}",
            output(&log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert!(db_file.is_file(), "the database is where the URL says");
    let secret = db_file.with_file_name("jwt-secret");
    let contents = std::fs::read_to_string(&secret).expect("the secret is beside the database");
    assert!(contents.trim().len() >= rft_users::config::MIN_JWT_SECRET_BYTES);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only the owner may read the secret");
    }
    assert!(
        !work.path().join("data").exists(),
        "nothing is written to ./data"
    );
}
