//! The API description the real server serves is a valid OpenAPI document: `GET /openapi.json`
//! is written to a file and checked by `openapi-spec-validator` (from PyPI), run as
//! `python3 -m openapi_spec_validator <file>`.
//!
//! The validator is required, not optional: without it the test fails and says how to install
//! it. `.ci/run` installs it when it is missing. That every status a route can answer is
//! declared on it is checked in cairn-server, against the error table (`http/route_errors/`).

mod common;

use std::process::Command;

use common::server::Server;

/// How to install the validator.
const INSTALL: &str = "python3 -m pip install --user openapi-spec-validator (on a Debian python3, \
                       add --break-system-packages; .ci/run does this when it is missing)";

#[tokio::test(flavor = "multi_thread")]
async fn the_served_description_is_valid_openapi() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start_in(dir, None, &[]).await;
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200);
    let document = response.text().await.expect("a body");
    server.stop().await;

    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("openapi.json");
    std::fs::write(&file, &document).expect("the document is written");
    let run = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--validation-errors", "all"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("python3 does not run ({e}); this test needs it, with {INSTALL}")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        !said.contains("No module named openapi_spec_validator"),
        "openapi-spec-validator is not installed; install it: {INSTALL}\n{said}"
    );
    assert!(
        run.status.success(),
        "openapi-spec-validator refuses the served /openapi.json:\n{said}\n\
         the document:\n{document}"
    );
    assert!(said.contains(": OK"), "the validator said:\n{said}");
}
