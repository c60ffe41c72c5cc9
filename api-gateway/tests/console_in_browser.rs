//! The web console in real browsers: Debian's Chromium and Firefox ESR, each driven by the
//! scripts in `console-tests/` (puppeteer-core: Chromium over the DevTools protocol, Firefox over
//! WebDriver BiDi), against the real server on a loopback port. Every scenario runs in both.
//!
//! Needs `node`, `console-tests/node_modules` (`npm ci` there) and the browsers (`apt-get
//! install chromium firefox-esr`, or `CHROMIUM=/path`, `FIREFOX=/path`); `.ci/run` sees to all
//! of them. Where one is missing the test says so and passes, so that the rest of the suite runs
//! on any machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use support::Server;

#[derive(Debug, Clone, Copy)]
enum Browser {
    Chromium,
    Firefox,
}

impl Browser {
    fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Firefox => "firefox",
        }
    }

    fn executable(self) -> String {
        match self {
            Browser::Chromium => {
                std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
            }
            Browser::Firefox => std::env::var("FIREFOX")
                .unwrap_or_else(|_| "/usr/lib/firefox-esr/firefox-esr".into()),
        }
    }
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../console-tests")
}

/// Why the browser tests cannot run here in `browser`, if they cannot.
fn missing(browser: Browser) -> Option<String> {
    let executable = browser.executable();
    if !Path::new(&executable).exists() {
        return Some(format!(
            "no {} at {executable} (apt-get install chromium firefox-esr)",
            browser.name()
        ));
    }
    if !scripts().join("node_modules/puppeteer-core").exists() {
        return Some("console-tests/node_modules is missing (npm ci in console-tests)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not installed".into());
    }
    None
}

/// Where screenshots go: `target/console-screenshots`, which CI lists in its output.
fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs one scenario script in `browser` against a fresh server (on `config`, else the demo
/// centre), or says why it cannot run here.
fn scenario(browser: Browser, script: &str, config: Option<&str>) {
    if let Some(why) = missing(browser) {
        eprintln!("skipping the browser test: {why}");
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let server = match config {
        Some(text) => Server::start_with(
            &support::write_config(data.path(), text),
            data.path().join("log"),
        ),
        None => Server::start(data.path()),
    };
    let output = Command::new("node")
        .arg(scripts().join(script))
        .current_dir(scripts())
        .env("SWITCHBOARD_URL", server.url("/"))
        .env("SCREENSHOTS", screenshots())
        .env("BROWSER", browser.name())
        .env(
            match browser {
                Browser::Chromium => "CHROMIUM",
                Browser::Firefox => "FIREFOX",
            },
            browser.executable(),
        )
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "{script} failed in {}:\n{stdout}\n{stderr}",
        browser.name()
    );
}

/// Each scenario, once per browser: `chromium::name` and `firefox::name`.
macro_rules! in_each_browser {
    ($($name:ident => $scenario:expr;)*) => {
        mod chromium {
            $(#[test]
            fn $name() {
                $scenario(super::Browser::Chromium)
            })*
        }
        mod firefox {
            $(#[test]
            fn $name() {
                $scenario(super::Browser::Firefox)
            })*
        }
    };
}

in_each_browser! {
    an_agent_answers_a_customer_and_closes_only_with_a_status =>
        |browser| super::scenario(browser, "agent.mjs", None);
    a_supervisor_watches_the_board_live_within_their_rights_and_exports_the_list =>
        super::board;
    an_agent_postpones_resumes_transfers_leaves_and_pauses_paid =>
        |browser| super::scenario(browser, "handover.mjs", None);
    a_console_cut_off_says_so_and_catches_up_without_losing_or_doubling =>
        |browser| super::scenario(browser, "reconnect.mjs", None);
    an_instagram_reply_over_1000_characters_cannot_be_sent =>
        |browser| super::scenario(browser, "instagram.mjs", None);
    two_agents_race_to_grab_one_conversation_the_loser_is_told_who_won_and_the_admin_joins =>
        super::grab;
    an_agents_day_of_ring_outs_waiting_lists_tabs_invitations_and_transfers =>
        super::workday;
    past_the_window_the_console_offers_only_approved_templates_and_outbound_only_to_who_wrote =>
        |browser| super::scenario(browser, "window.mjs", None);
}

fn board(browser: Browser) {
    // The demo centre, with a chat routed to sales: the demo supervisor has no rights there.
    let demo = std::fs::read_to_string(support::example_config()).unwrap();
    let config = format!(
        "{demo}\n[[connectors]]\nid = \"sales-chat\"\nchannel = \"webchat\"\nqueue = \"sales\"\n"
    );
    scenario(browser, "board.mjs", Some(&config));
}

/// SHA-256 of a key's secret, as the configuration holds it.
fn digest(secret: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn grab(browser: Browser) {
    let demo = std::fs::read_to_string(support::example_config()).unwrap();
    let mut team = String::from(
        "\n[[queues]]\nid = \"experts\"\nchannels = [\"webchat\"]\nmode = \"grab\"\n\
         [[connectors]]\nid = \"experts-chat\"\nchannel = \"webchat\"\nqueue = \"experts\"\n",
    );
    // Ann and Ben grab; Cleo administers the team and joins what either grabbed.
    for (agent, role) in [("ann", "queues"), ("ben", "queues"), ("cleo", "admin_of")] {
        team.push_str(&format!(
            "[[agents]]\nid = \"{agent}\"\nname = \"{agent}\"\n{role} = [\"experts\"]\n\
             capacity = {{ webchat = 2 }}\n\
             [[api_keys]]\nid = \"test-{agent}\"\nrole = \"agent\"\nagent = \"{agent}\"\n\
             secret_sha256 = \"{}\"\n",
            digest(&format!("sb_test_{agent}"))
        ));
    }
    scenario(browser, "grab.mjs", Some(&format!("{demo}{team}")));
}

/// A desk that reminds on every customer message, and a queue whose offers ring for two seconds
/// and pause who misses one; Ann and Ben work them.
fn workday(browser: Browser) {
    let demo = std::fs::read_to_string(support::example_config()).unwrap();
    let mut desk = String::from(
        "\n[[queues]]\nid = \"desk\"\nchannels = [\"webchat\"]\nreminder = \"every_message\"\n\
         [[queues]]\nid = \"ring\"\nchannels = [\"webchat\"]\noffer_timeout_s = 2\n\
         pause_on_missed_offer = true\n\
         [[connectors]]\nid = \"desk-chat\"\nchannel = \"webchat\"\nqueue = \"desk\"\n\
         [[connectors]]\nid = \"ring-chat\"\nchannel = \"webchat\"\nqueue = \"ring\"\n",
    );
    for agent in ["ann", "ben"] {
        desk.push_str(&format!(
            "[[agents]]\nid = \"{agent}\"\nname = \"{agent}\"\nqueues = [\"desk\", \"ring\"]\n\
             capacity = {{ webchat = 3 }}\n\
             [[api_keys]]\nid = \"test-{agent}\"\nrole = \"agent\"\nagent = \"{agent}\"\n\
             secret_sha256 = \"{}\"\n",
            digest(&format!("sb_test_{agent}"))
        ));
    }
    scenario(browser, "workday.mjs", Some(&format!("{demo}{desk}")));
}

/// The console's files come from the binary, with no key, nothing from elsewhere allowed in,
/// and an unknown file is a problem like any other unknown path.
#[tokio::test]
async fn the_console_is_served_by_the_binary_itself() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let http = reqwest::Client::new();
    for (path, media_type, marker) in [
        ("/", "text/html", "<title>Switchboard</title>"),
        ("/console/js/main.js", "text/javascript", "import"),
        ("/console/style.css", "text/css", ":root"),
    ] {
        let response = http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with(media_type),
            "{path}"
        );
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'"),
            "{path}"
        );
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    let missing = http
        .get(server.url("/console/js/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
}
