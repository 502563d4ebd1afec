//! The writer against serde_json: the data model, and strings of every kind.
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

use super::to_string;

/// Every string of one byte, and strings mixing escapes with long clean runs.
#[test]
fn strings_are_written_as_serde_json_writes_them() {
    for b in 0u8..=127 {
        let s = String::from(b as char);
        assert_eq!(
            to_string(&s).unwrap(),
            serde_json::to_string(&s).unwrap(),
            "{b}"
        );
    }
    let samples = [
        String::new(),
        "x".repeat(16 * 1024),
        "abcdefg\"hijklmno\\pqrstuv\nwxyz\u{1}\u{1f}\u{7f}".repeat(37),
        "héllo wörld — ✓ 🎉".repeat(50),
        "a\"".into(),
        "\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}".into(),
        "0123456\"".into(),
        "01234567\\".into(),
    ];
    for s in samples {
        assert_eq!(to_string(&s).unwrap(), serde_json::to_string(&s).unwrap());
    }
}

/// Ten thousand strings drawn from an alphabet of escapes, ASCII and
/// multi-byte characters, at every alignment of the 16-byte blocks.
#[test]
fn random_strings_are_written_as_serde_json_writes_them() {
    const ALPHABET: [&str; 12] = [
        "a", "Z", " ", "\"", "\\", "\n", "\u{0}", "\u{1f}", "\u{7f}", "é", "✓", "🎉",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..10_000 {
        let len = (next() % 80) as usize;
        let s: String = (0..len)
            .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
            .collect();
        assert_eq!(
            to_string(&s).unwrap(),
            serde_json::to_string(&s).unwrap(),
            "{s:?}"
        );
    }
}

#[derive(Serialize)]
enum E {
    Unit,
    New(u8),
    Tuple(u8, String),
    Struct { a: Option<f64>, b: Vec<u8> },
}

#[derive(Serialize)]
struct Everything<'a> {
    n: i64,
    u: u128,
    f: f64,
    nan: f32,
    t: bool,
    none: Option<u8>,
    unit: (),
    tuple: (u8, &'a str, char),
    list: Vec<E>,
    empty_list: Vec<u8>,
    empty_map: BTreeMap<String, u8>,
    int_keys: BTreeMap<i32, &'a str>,
    bool_keys: BTreeMap<bool, u8>,
    nested: serde_json::Value,
    raw: &'a RawValue,
    bytes: &'a [u8],
}

#[test]
fn the_data_model_is_written_as_serde_json_writes_it() {
    let raw = RawValue::from_string(r#"{"kept": [1, 2]}"#.into()).unwrap();
    let value = Everything {
        n: -42,
        u: u128::MAX,
        f: 1.5e300,
        nan: f32::NAN,
        t: true,
        none: None,
        unit: (),
        tuple: (7, "s\"", 'é'),
        list: vec![
            E::Unit,
            E::New(1),
            E::Tuple(2, "x".into()),
            E::Struct {
                a: Some(0.1),
                b: vec![],
            },
        ],
        empty_list: vec![],
        empty_map: BTreeMap::new(),
        int_keys: [(-1, "a"), (2, "b")].into(),
        bool_keys: [(true, 1)].into(),
        nested: json!({"a": [1, {"b": null}], "c": "d\n"}),
        raw: &raw,
        bytes: b"hi",
    };
    assert_eq!(
        to_string(&value).unwrap(),
        serde_json::to_string(&value).unwrap()
    );
    let map: HashMap<String, Vec<Option<bool>>> = [("k".into(), vec![Some(true), None])].into();
    assert_eq!(
        to_string(&map).unwrap(),
        serde_json::to_string(&map).unwrap()
    );
}

#[test]
fn keys_that_are_not_strings_fail_as_in_serde_json() {
    let map: BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    assert!(serde_json::to_string(&map).is_err());
    assert!(to_string(&map).is_err());
}
