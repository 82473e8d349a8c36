//! A real browser for the console's tests: Debian's headless Chromium, driven over WebDriver
//! (fantoccini) through its ChromeDriver, each started here on 127.0.0.1 and stopped when the
//! [`Browser`] is dropped.
//!
//! [`Browser::console_errors`] reads the browser's log (ChromeDriver's `se/log`): what a page
//! wrote with `console.error`, and every uncaught exception or refused script (a broken
//! Content-Security-Policy shows there). [`Browser::screenshot`] writes PNGs to
//! `target/console-screenshots/`, for a person to look at.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// Where ChromeDriver and Chromium are, as Debian's `chromium` and `chromium-driver` packages
/// install them (`.ci/run` installs them when they are missing).
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long a wait for the page lasts before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// ChromeDriver's log read: `POST /session/{id}/se/log` with `{"type": "browser"}`.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a desktop-sized window.
    pub async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{CHROMEDRIVER} does not start ({e}): install Debian's chromium-driver")
            });
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,1000", "--no-first-run", "--disable-extensions",
                    "--disable-background-networking", "--disable-sync",
                ],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let caps = caps.as_object().expect("an object").clone();
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        Self { client, driver }
    }

    /// Goes to `url` and waits for the console to show a page (its `h1`).
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
        self.wait_for("main h1").await;
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Waits until `check`, a script returning a boolean, returns true.
    pub async fn wait_until(&self, what: &str, check: &str) {
        let started = Instant::now();
        loop {
            let done = self
                .client
                .execute(check, vec![])
                .await
                .unwrap_or_else(|e| panic!("{what}: the script failed: {e}"));
            if done.as_bool() == Some(true) {
                return;
            }
            assert!(started.elapsed() < PATIENCE, "waited {PATIENCE:?}: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.expect("text")
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("clicks");
    }

    /// Replaces the value of the field matching `css` with `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.expect("clears");
        field.send_keys(text).await.expect("types");
    }

    /// Runs `script` in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// The browser log's errors since the last read, but for failed requests (`network`): a
    /// rejected command is a 422 the page expects and shows.
    pub async fn console_errors(&self) -> Vec<String> {
        let log = self.client.issue_cmd(BrowserLog).await.expect("the log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE" && entry["source"] != "network")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Writes a screenshot of the window as `{name}.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writes the screenshot");
        path
    }

    /// Resizes the window.
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resizes");
    }

    /// Closes the session and stops ChromeDriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Where screenshots go: `target/console-screenshots/` of this workspace.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots")
}
