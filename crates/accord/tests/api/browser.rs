//! A real browser for the page tests: Debian's `chromium`, driven by `playwright-core`
//! through `tests/browser/driver.mjs` (one JSON command per line; its header lists them).
//! Each test opens its own browser (its own cookies) and closes it when dropped.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

/// What a navigation came to.
#[derive(Debug)]
pub struct Landing {
    pub status: Option<u16>,
    pub url: String,
    pub title: String,
}

impl Browser {
    /// A browser whose `Accept-Language` follows `locale` (`en-GB`, `sv-SE`).
    pub async fn open(locale: &str) -> Browser {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed in {}: run scripts/test, or `npm ci` there",
            dir.display()
        );
        let node = std::env::var("ACCORD_TEST_NODE").unwrap_or_else(|_| "node".into());
        let mut child = Command::new(node)
            .arg("driver.mjs")
            .current_dir(&dir)
            .env("ACCORD_TEST_LOCALE", locale)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the browser driver");
        let stdin = child.stdin.take().expect("stdin");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the browser starts within a minute")
            .expect("driver output")
            .expect("a line");
        assert!(ready.contains("ready"), "driver: {ready}");
        Browser {
            child,
            stdin,
            lines,
        }
    }

    async fn send(&mut self, command: Value) -> Value {
        let mut line = command.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.expect("send");
        let answer = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("the browser answers {command} within a minute"))
            .expect("driver output")
            .expect("an answer");
        let answer: Value = serde_json::from_str(&answer).expect("JSON from the driver");
        assert_eq!(answer["ok"], true, "{command}: {answer}");
        answer
    }

    fn landing(v: &Value) -> Landing {
        Landing {
            status: v["status"].as_u64().map(|s| s as u16),
            url: v["url"].as_str().unwrap_or_default().to_owned(),
            title: v["title"].as_str().unwrap_or_default().to_owned(),
        }
    }

    pub async fn goto(&mut self, url: &str) -> Landing {
        Self::landing(&self.send(json!({"op": "goto", "url": url})).await)
    }

    pub async fn fill(&mut self, selector: &str, value: &str) {
        self.send(json!({"op": "fill", "selector": selector, "value": value}))
            .await;
    }

    /// Clicks a button or link and waits for the page it leads to.
    pub async fn click(&mut self, selector: &str) -> Landing {
        Self::landing(
            &self
                .send(json!({"op": "submit", "selector": selector}))
                .await,
        )
    }

    /// Sets a (hidden) field's value, as a forger would.
    /// Picks the option `value` of a list, as a person does.
    pub async fn select(&mut self, selector: &str, value: &str) {
        self.send(json!({"op": "select", "selector": selector, "value": value}))
            .await;
    }

    pub async fn set_value(&mut self, selector: &str, value: &str) {
        self.send(json!({"op": "setValue", "selector": selector, "value": value}))
            .await;
    }

    pub async fn text(&mut self, selector: &str) -> String {
        self.send(json!({"op": "text", "selector": selector})).await["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn html(&mut self) -> String {
        self.send(json!({"op": "html"})).await["html"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn cookies(&mut self) -> Vec<Value> {
        self.send(json!({"op": "cookies"})).await["cookies"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn set_cookie(&mut self, cookie: Value) {
        self.send(json!({"op": "setCookie", "cookie": cookie}))
            .await;
    }

    /// axe-core's WCAG 2.1 A and AA rules on the page as it stands: none may fail.
    pub async fn assert_accessible(&mut self, page: &str) {
        let v = self.send(json!({"op": "axe"})).await;
        let violations = v["violations"].as_array().cloned().unwrap_or_default();
        assert!(violations.is_empty(), "{page}: axe-core: {violations:#?}");
    }

    /// A picture of the page under `target/screenshots/` (docs/web.md says how the
    /// committed ones under docs/screenshots/ are refreshed from these).
    pub async fn screenshot(&mut self, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        self.send(json!({"op": "screenshot", "path": path.to_string_lossy()}))
            .await;
    }
}

impl Browser {
    /// A mail's HTML alternative as a mail client would show it, photographed as `name`.
    pub async fn screenshot_mail(&mut self, html: &str, name: &str) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let page = dir.join(format!("{name}.html"));
        std::fs::write(&page, html).expect("the mail's page");
        self.goto(&format!("file://{}", page.display())).await;
        self.screenshot(name).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
