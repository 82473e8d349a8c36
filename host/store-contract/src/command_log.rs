//! [`cairn_store::CommandLog`]: a command's entry commits with its events or not at all, an
//! appended entry never changes, an entry of a command that appended nothing gives way to a
//! later one, and the log pages in id order.

use std::collections::HashSet;

use cairn_store::{
    AppendError, AppendKind, CommandEntry, CommandId, CommandLog, CommandType, EventLog,
    ExpectedVersion, IdempotencyKey, Json, LoggedCommand, ModuleHash, ModuleName, NothingAppended,
    StreamRead, Timestamp, Verdict, Version,
};

use crate::fixtures;
use crate::{Backend, WriteFaults};

/// A command to aggregate `account` of `bank`, decided at `decided_at`.
fn command(account: &str, decided_at: u64, key: Option<&str>) -> LoggedCommand {
    LoggedCommand {
        id: CommandId::from(uuid::Uuid::now_v7()),
        command_type: CommandType::new("Deposit").expect("valid"),
        data: Json::parse(r#"{"amount": 5}"#).expect("valid"),
        idempotency_key: key.map(|k| IdempotencyKey::new(k).expect("valid")),
        time: Timestamp::from_millis(1_795_000_000_000),
        aggregate: ModuleName::new("bank").expect("valid"),
        stream: fixtures::stream(&format!("bank-{account}")),
        decided_at: Version::new(decided_at),
        module_hash: ModuleHash::of(b"bank v1"),
    }
}

fn deposited() -> Vec<cairn_store::NewEvent> {
    vec![
        fixtures::event("Deposited", r#"{"amount": 5}"#),
        fixtures::event("Noted", "{}"),
    ]
}

fn rejected(message: &str) -> NothingAppended {
    NothingAppended::Rejected {
        message: message.to_owned(),
    }
}

/// CommandLog promise 1: an appended command's entry holds the command and where its events
/// landed, readable at once and after a restart; the events it names are the ones appended.
pub async fn an_appended_command_is_kept_with_where_its_events_landed<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = command("a", 0, None);
    let outcome = store
        .append_command(ExpectedVersion::NoStream, deposited(), first.clone())
        .await
        .expect("appends");
    assert_eq!(outcome.kind, AppendKind::Written);
    let expected = CommandEntry {
        command: first.clone(),
        verdict: Verdict::Appended {
            first_version: Version::new(1),
            last_version: Version::new(2),
            first_position: outcome.first_position,
            last_position: outcome.last_position,
        },
    };
    assert_eq!(
        store.command(first.id).await.expect("reads"),
        Some(expected.clone())
    );
    let store = fixtures::reopen(&backend, store).await;
    assert_eq!(
        store.command(first.id).await.expect("reads"),
        Some(expected)
    );
    let events = store
        .read_stream(first.stream.clone(), StreamRead::forward())
        .await
        .expect("reads")
        .events;
    assert_eq!(events.len(), 2);
    assert_eq!(
        store
            .command(CommandId::from(uuid::Uuid::now_v7()))
            .await
            .expect("reads"),
        None,
        "an id never logged has no entry"
    );
    B::close(store).await;
}

/// CommandLog promise 1: an append that is refused writes no entry, and one recognised by its
/// key writes none and leaves the first entry as it was.
pub async fn a_refused_or_recognised_append_writes_no_entry<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let refused = command("a", 3, None);
    let error = store
        .append_command(
            ExpectedVersion::Exact(Version::new(3)),
            deposited(),
            refused.clone(),
        )
        .await
        .expect_err("the stream is not at version 3");
    assert!(
        matches!(error, AppendError::WrongExpectedVersion { .. }),
        "{error}"
    );
    assert_eq!(store.command(refused.id).await.expect("reads"), None);

    let keyed = command("b", 0, Some("deposit-1"));
    let written = store
        .append_command(ExpectedVersion::NoStream, deposited(), keyed.clone())
        .await
        .expect("appends");
    let entry = store.command(keyed.id).await.expect("reads");
    // The same command again, decided later: recognised by its key before anything is written.
    let again = LoggedCommand {
        decided_at: Version::new(2),
        time: Timestamp::from_millis(1_795_000_000_999),
        ..keyed.clone()
    };
    let recognised = store
        .append_command(ExpectedVersion::Exact(Version::new(2)), deposited(), again)
        .await
        .expect("recognised");
    assert_eq!(recognised, fixtures::recognised(&written));
    assert_eq!(store.command(keyed.id).await.expect("reads"), entry);
    let log = store.read_commands(None, 10).await.expect("reads");
    assert_eq!(log.len(), 1, "one entry: {log:?}");
    B::close(store).await;
}

/// CommandLog promise 2: an entry of a command that appended nothing is kept, and replaced by
/// a later attempt's, which may append; an appended entry is never replaced, and a second
/// append under its id is refused with nothing written.
pub async fn an_entry_that_appended_nothing_gives_way_and_an_appended_one_never_does<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let first = command("a", 0, None);
    store
        .record_command(first.clone(), rejected("no account"))
        .await
        .expect("records");
    let entry = store.command(first.id).await.expect("reads").expect("kept");
    assert_eq!(
        entry.verdict,
        Verdict::NothingAppended(rejected("no account"))
    );

    let later = LoggedCommand {
        time: Timestamp::from_millis(1_795_000_001_000),
        ..first.clone()
    };
    store
        .record_command(later.clone(), NothingAppended::Unchanged)
        .await
        .expect("records");
    let entry = store.command(first.id).await.expect("reads").expect("kept");
    assert_eq!(entry.command, later);
    assert_eq!(
        entry.verdict,
        Verdict::NothingAppended(NothingAppended::Unchanged)
    );

    store
        .append_command(ExpectedVersion::NoStream, deposited(), first.clone())
        .await
        .expect("appends");
    let appended = store.command(first.id).await.expect("reads").expect("kept");
    assert!(
        matches!(appended.verdict, Verdict::Appended { .. }),
        "{appended:?}"
    );

    store
        .record_command(later, rejected("too late"))
        .await
        .expect("a no-op, not an error");
    assert_eq!(
        store.command(first.id).await.expect("reads"),
        Some(appended.clone())
    );
    let error = store
        .append_command(ExpectedVersion::Any, deposited(), first.clone())
        .await
        .expect_err("the id appended already");
    assert!(
        matches!(error, AppendError::CommandIdReused { id } if id == first.id),
        "{error}"
    );
    let slice = store
        .read_stream(first.stream.clone(), StreamRead::forward())
        .await
        .expect("reads");
    assert_eq!(
        slice.version,
        Version::new(2),
        "the refused append wrote nothing"
    );
    let store = fixtures::reopen(&backend, store).await;
    assert_eq!(
        store.command(first.id).await.expect("reads"),
        Some(appended)
    );
    B::close(store).await;
}

/// CommandLog promise 3: paging through the log by id returns every entry exactly once, in id
/// order, appended or not.
pub async fn the_log_pages_in_id_order_with_every_entry_once<B: Backend>() {
    let backend = B::create().await;
    let store = backend.open().await;
    let mut logged = HashSet::new();
    for n in 0..25u64 {
        let account = format!("p{}", n % 4);
        let entry = command(&account, 0, None);
        logged.insert(entry.id);
        if n % 3 == 0 {
            store
                .record_command(entry, rejected("no"))
                .await
                .expect("records");
        } else {
            store
                .append_command(ExpectedVersion::Any, deposited(), entry)
                .await
                .expect("appends");
        }
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.read_commands(after, 7).await.expect("reads");
        assert!(page.len() <= 7);
        let Some(last) = page.last() else { break };
        after = Some(last.command.id);
        seen.extend(page.into_iter().map(|entry| entry.command.id));
    }
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]), "in id order");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), logged);
    B::close(store).await;
}

/// CommandLog promise 1 under failing storage: an append that was not acknowledged left
/// neither events nor an entry, and every acknowledged one left both.
pub async fn a_failed_command_append_leaves_neither_events_nor_entry<B: Backend>() {
    let backend = B::create().await;
    let (store, faults) = backend.open_faulty().await;
    let mut acked = Vec::new();
    let mut failed = Vec::new();
    faults.fail_after(60);
    for n in 0..400u64 {
        if failed.len() >= 10 {
            break;
        }
        let entry = command(&format!("f{n}"), 0, None);
        match store
            .append_command(ExpectedVersion::NoStream, deposited(), entry.clone())
            .await
        {
            Ok(_) => acked.push(entry),
            Err(AppendError::Storage(_)) => failed.push(entry),
            Err(other) => panic!("refused, not failed: {other}"),
        }
    }
    assert!(!failed.is_empty(), "the storage failed some appends");
    assert!(!acked.is_empty(), "the storage let some appends through");
    // Closed while its storage still fails, as a crash would leave it.
    B::close(store).await;
    faults.clear();
    let store = backend.open().await;
    for entry in &acked {
        let kept = store.command(entry.id).await.expect("reads");
        assert!(kept.is_some(), "an acknowledged command lost its entry");
    }
    for entry in &failed {
        let kept = store.command(entry.id).await.expect("reads");
        let slice = store
            .read_stream(entry.stream.clone(), StreamRead::forward())
            .await
            .expect("reads");
        assert_eq!(
            kept.is_some(),
            slice.version == Version::new(2),
            "an entry without its events, or events without their entry"
        );
    }
    B::close(store).await;
}
