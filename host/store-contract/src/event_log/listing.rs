//! Listing streams by name prefix (promise 6): pages in name order both ways, capped, and
//! paging on from a page's last name lists every stream of the prefix exactly once.

use cairn_store::{
    EventLog, ExpectedVersion, MAX_STREAMS_PER_LISTING, StreamsPage, StreamsRead, Version,
};

use crate::Backend;
use crate::fixtures;

fn names(page: &StreamsPage) -> Vec<&str> {
    page.streams.iter().map(|s| s.stream.as_str()).collect()
}

/// 2,500 streams `acct-0000` to `acct-2499` (stream `acct-n` holds `n % 3 + 1` events) and
/// 10 streams `cust-0` to `cust-9`, listed by prefix: pages of at most
/// [`MAX_STREAMS_PER_LISTING`], forward and backward, each stream once with its version, and
/// the last page says nothing more follows.
pub async fn streams_are_listed_by_prefix_in_pages_both_ways<B: Backend>() {
    const WRITERS: u64 = 32;
    let backend = B::create().await;
    let store = fixtures::shared(&backend).await;
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in (writer..2_500).step_by(WRITERS as usize) {
                    let events = (0..n % 3 + 1)
                        .map(|_| fixtures::event("Opened", "{}"))
                        .collect();
                    let stream = fixtures::stream(&format!("acct-{n:04}"));
                    store
                        .append(stream, ExpectedVersion::NoStream, events)
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer");
    }
    for n in 0..10 {
        let event = fixtures::event("Registered", "{}");
        store
            .append(
                fixtures::stream(&format!("cust-{n}")),
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await
            .expect("append");
    }

    // Forward through the category, in pages capped at the most a listing returns.
    let mut seen = Vec::new();
    let mut read = StreamsRead::prefixed("acct-", usize::MAX);
    loop {
        let page = store.list_streams(read.clone()).await.expect("list");
        assert!(page.streams.len() <= MAX_STREAMS_PER_LISTING);
        for listed in &page.streams {
            let n: u64 = listed.stream.as_str()[5..].parse().expect("a number");
            assert_eq!(listed.version, Version::new(n % 3 + 1), "{}", listed.stream);
        }
        seen.extend(names(&page).into_iter().map(str::to_owned));
        if !page.more {
            break;
        }
        read = read.from(seen.last().expect("a page before").clone());
    }
    let expected: Vec<String> = (0..2_500).map(|n| format!("acct-{n:04}")).collect();
    assert_eq!(seen, expected);

    // Backward, from a name that is not a stream, in pages of 7.
    let mut back = Vec::new();
    let mut read = StreamsRead::prefixed("acct-", 7)
        .from("acct-0020x")
        .backward();
    loop {
        let page = store.list_streams(read.clone()).await.expect("list");
        back.extend(names(&page).into_iter().map(str::to_owned));
        if !page.more {
            break;
        }
        read = read.from(back.last().expect("a page before").clone());
    }
    let expected: Vec<String> = (0..=20).rev().map(|n| format!("acct-{n:04}")).collect();
    assert_eq!(back, expected);

    // A narrower prefix, another category, every name, and a prefix nothing has.
    let page = store
        .list_streams(StreamsRead::prefixed("acct-123", 100))
        .await
        .expect("list");
    assert_eq!(
        names(&page),
        (1230..1240)
            .map(|n| format!("acct-{n}"))
            .collect::<Vec<_>>()
    );
    assert!(!page.more);
    let page = store
        .list_streams(StreamsRead::prefixed("cust", 100).backward())
        .await
        .expect("list");
    assert_eq!(names(&page).first(), Some(&"cust-9"));
    assert_eq!(page.streams.len(), 10);
    let page = store
        .list_streams(StreamsRead::prefixed("", 3).from("acct-2498"))
        .await
        .expect("list");
    assert_eq!(names(&page), ["acct-2499", "cust-0", "cust-1"]);
    assert!(page.more);
    let page = store
        .list_streams(StreamsRead::prefixed("order-", 10))
        .await
        .expect("list");
    assert!(page.streams.is_empty() && !page.more);
    let page = store
        .list_streams(StreamsRead::prefixed("cust-", 0))
        .await
        .expect("list");
    assert!(
        page.streams.is_empty() && page.more,
        "a limit of 0 says more follow"
    );
}
