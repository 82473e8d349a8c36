//! The cluster starts, takes connections, makes databases, stops and starts again with what it
//! held, and is gone when dropped.

use std::process::Command;

use cairn_pg_cluster::{Cluster, Options, find_bin};

/// Runs `sql` with psql against `url`; its output.
fn psql(url: &str, sql: &str) -> String {
    let output = Command::new(find_bin().expect("PostgreSQL is installed").join("psql"))
        .args([url, "-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn a_cluster_serves_keeps_its_data_across_a_restart_and_is_gone_when_dropped() {
    let cluster = Cluster::start(Options::default()).expect("the cluster starts");
    let url = cluster.create_database("first").expect("a database");
    psql(&url, "CREATE TABLE t (n int); INSERT INTO t VALUES (7)");
    cluster.stop().expect("it stops");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", cluster.port())).is_err(),
        "nothing listens once stopped"
    );
    cluster.restart().expect("it starts again");
    assert_eq!(psql(&url, "SELECT n FROM t"), "7");
    let port = cluster.port();
    drop(cluster);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nothing listens once dropped"
    );
}
