//! The real `cairn` binary: `cairn bench store` end to end, at a small scale. Figures are not
//! judged here (timings do not belong in tests); their presence and shape are.

use std::process::Command;

fn cairn(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .output()
        .expect("the cairn binary runs")
}

#[test]
fn bench_store_json_is_one_object_with_every_figure() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().expect("utf-8 path");
    let output = cairn(&[
        "bench", "store", "--json", "--scale", "0.005", "--dir", dir_arg,
    ]);
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(report["scenario"], "store");
    for key in [
        "append_1_per_s",
        "append_64_per_s",
        "append_64_p99_ms",
        "append_batch100_events_per_s",
        "read_stream_events_per_s",
        "read_all_events_per_s",
    ] {
        let value = report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {report}"));
        assert!(value > 0.0, "{key} = {value}");
    }
    assert!(report["targets_met"].is_boolean());
    // The machine the figures were measured on.
    let machine = &report["machine"];
    assert!(
        machine["cpu"].as_str().is_some_and(|cpu| !cpu.is_empty()),
        "{report}"
    );
    assert!(
        machine["cores"].as_u64().is_some_and(|cores| cores >= 1),
        "{report}"
    );
    for probe in ["fsync_4k_p50_ms", "fsync_4k_p99_ms"] {
        assert!(
            machine[probe].as_f64().is_some_and(|ms| ms >= 0.0),
            "{report}"
        );
    }
    // The temporary database is removed when the bench ends.
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "bench left {left:?}");
}

#[test]
fn bench_store_table_names_the_targets() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_str().expect("utf-8 path");
    let output = cairn(&["bench", "store", "--scale", "0.005", "--dir", dir_arg]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("utf-8");
    assert!(table.starts_with("cairn bench store"), "{table}");
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|line| line.contains("cores; a synced 4 KiB write: p50")),
        "{table}"
    );
    assert!(
        table.contains("append_64_p99_ms") && table.contains("target ≤ 5.000 ms"),
        "{table}"
    );
}

#[test]
fn bad_arguments_fail_with_a_reason() {
    let output = cairn(&["bench", "store", "--scale", "0"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--scale must be a positive number"),
        "{stderr}"
    );

    let output = cairn(&["bench", "nonsense"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value 'nonsense'") && stderr.contains("store"),
        "{stderr}"
    );

    let output = cairn(&["bench", "store", "--dir", "/proc/definitely/not/here"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot make a temporary directory"),
        "{stderr}"
    );
}

/// The runtime and commands benches build and run the real `bank_account` module.
#[test]
fn bench_runtime_and_commands_run_the_real_example() {
    let scenarios: [(&str, &[&str]); 2] = [
        (
            "runtime",
            &[
                "fold_events_per_s",
                "instantiate_p50_us",
                "load_100k_p99_ms",
            ],
        ),
        ("commands", &["commands_64_per_s", "commands_64_p99_ms"]),
    ];
    for (scenario, keys) in scenarios {
        let dir = tempfile::tempdir().expect("temp dir");
        let dir_arg = dir.path().to_str().expect("utf-8 path");
        let output = cairn(&[
            "bench", scenario, "--json", "--scale", "0.002", "--dir", dir_arg,
        ]);
        assert!(
            output.status.success(),
            "{scenario}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("one JSON object");
        assert_eq!(report["scenario"], scenario);
        for key in keys {
            let value = report[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} missing: {report}"));
            assert!(value > 0.0, "{scenario}: {key} = {value}");
        }
    }
}
