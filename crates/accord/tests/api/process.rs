//! The real `accord` binary as a child process: for kill -9, SIGTERM and log inspection.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `accord serve` on a free loopback port and waits (bounded) until it is up.
    pub fn start(database_url: &str, log: PathBuf, extra_env: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let base = format!("http://127.0.0.1:{port}");
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_accord"));
        cmd.arg("serve")
            .env("ACCORD_DATABASE_URL", database_url)
            .env("ACCORD_LISTEN", format!("127.0.0.1:{port}"))
            .env("ACCORD_PUBLIC_URL", &base)
            .env("ACCORD_DANGER_TEST_PASSWORD_HASH", "1")
            .env("ACCORD_WEBHOOK_ALLOW_PRIVATE", "1")
            .env("ACCORD_OIDC_ALLOW_PRIVATE", "1")
            // Every test registers its people from loopback.
            .env("ACCORD_REGISTRATIONS_PER_ADDRESS", "1000000")
            .env("ACCORD_WORKER_INTERVAL", "0.1")
            .env("ACCORD_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log_file);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn accord");
        let mut server = Self { child, base, log };
        server.wait_until_up();
        server
    }

    fn wait_until_up(&mut self) {
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().expect("child status") {
                panic!("accord exited early ({status}); log:\n{}", self.log_text());
            }
            let addr = self.base.trim_start_matches("http://").to_owned();
            if std::net::TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "accord did not start within 15 s; log:\n{}",
            self.log_text()
        );
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }

    pub fn sigterm(&self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
