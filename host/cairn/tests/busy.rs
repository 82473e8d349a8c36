//! A busy port or a data directory another cairn holds: each said at once, once, and in words
//! that name what to do, before any work is done.

mod common;

use std::time::Duration;

use common::{Output, cairn, kill, repository, serve};

#[test]
fn cairn_dev_on_a_busy_port_says_so_before_building_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let address = taken.local_addr().expect("address").to_string();
    let target_dir = tempfile::tempdir().expect("temp dir");
    let output = cairn()
        .args(["dev", "--listen", &address, "--config"])
        .arg(repository().join("cairn.toml"))
        .arg("--target-dir")
        .arg(target_dir.path())
        .output()
        .expect("cairn runs");
    assert!(!output.status.success());
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains(&format!("cannot listen on {address}")),
        "{printed}"
    );
    assert!(!printed.contains("building"), "it built first: {printed}");
}

#[test]
fn a_second_cairn_on_one_data_directory_is_told_once_that_another_uses_it() {
    let data = tempfile::tempdir().expect("temp dir");
    let (first, _) = serve(data.path());
    let mut second = cairn()
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cairn runs");
    let mut output = Output::of(&mut second);
    let said = output.wait_for("another cairn is using", Duration::from_secs(60));
    assert!(
        said.contains(&data.path().display().to_string()),
        "it names the directory: {said}"
    );
    let status = second.wait().expect("exits");
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(200));
    let printed = output.seen().join("\n");
    assert_eq!(
        printed.matches("another cairn is using").count(),
        1,
        "said more than once: {printed}"
    );
    kill(first);
}
