//! Bad names and JSON are typed errors when they are made, never a panic. (That a bad append
//! stores nothing is every backend's promise: `host/store-contract`, `event_log/refusals.rs`.)

use cairn_store::{EventType, Json, NameError, StreamId};

#[test]
fn bad_stream_names_are_typed_errors() {
    assert_eq!(StreamId::new(""), Err(NameError::Empty));
    assert_eq!(
        StreamId::new(&"x".repeat(201)),
        Err(NameError::TooLong { len: 201, max: 200 })
    );
    assert!(StreamId::new(&"x".repeat(200)).is_ok());
    // The limit is in bytes: 100 two-byte characters fit, 101 do not.
    assert!(StreamId::new(&"é".repeat(100)).is_ok());
    assert!(matches!(
        StreamId::new(&"é".repeat(101)),
        Err(NameError::TooLong { len: 202, .. })
    ));
    for bad in [
        "a\0b",
        "tab\there",
        "new\nline",
        "\u{1b}[31mred",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        assert!(
            matches!(StreamId::new(bad), Err(NameError::ControlCharacter { .. })),
            "{bad:?} accepted"
        );
    }
    assert!(EventType::new("").is_err());
    assert!(EventType::new("Bad\nType").is_err());
}

#[test]
fn invisible_characters_are_refused_with_their_code_point_and_place() {
    for (bad, code, at) in [
        ("zero\u{200B}width", 0x200B, 4),
        ("bidi-\u{202E}1gnp.exe", 0x202E, 5),
        ("\u{FEFF}bom-1", 0xFEFF, 0),
        ("soft\u{AD}hyphen", 0xAD, 4),
        ("isolate-\u{2066}x\u{2069}", 0x2066, 8),
        ("joiner\u{2060}-1", 0x2060, 6),
        ("tag-\u{E0041}", 0xE0041, 4),
        ("line\u{2028}separator", 0x2028, 4),
    ] {
        let expected: Result<(), NameError> = Err(NameError::InvisibleCharacter { code, at });
        assert_eq!(StreamId::new(bad).map(|_| ()), expected, "{bad:?}");
        assert_eq!(EventType::new(bad).map(|_| ()), expected.clone(), "{bad:?}");
        // A module name refuses anything but its own few characters (`module.rs`).
        assert!(cairn_store::ModuleName::new(bad).is_err(), "{bad:?}");
    }
    let message = StreamId::new("a\u{200F}").expect_err("refused").to_string();
    assert!(message.contains("U+200F at byte 1"), "{message}");
    assert!(StreamId::new("κύριος-ü-€-😀").is_ok());
}

#[test]
fn json_that_readers_cannot_hold_is_a_typed_error() {
    assert!(matches!(
        Json::parse(r#"{"amount": 1e400}"#),
        Err(cairn_store::JsonError::NumberOutOfRange { at: 11 })
    ));
    assert!(matches!(
        Json::parse(r#"{"name": "\udc00x"}"#),
        Err(cairn_store::JsonError::LoneSurrogate {
            code: 0xDC00,
            at: 10
        })
    ));
    assert!(matches!(
        Json::parse("{"),
        Err(cairn_store::JsonError::Invalid(_))
    ));
    assert!(Json::parse(r#"{"amount": 1e300, "name": "\ud83d\ude00"}"#).is_ok());
}
