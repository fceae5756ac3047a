//! No input can make parsing, validation or generation panic: random edits of the shipped
//! scenarios and random numbers in every numeric field give a scenario or an error, never a
//! crash.

use cclab_scenarios::{Arrivals, Scenario, library};
use proptest::prelude::*;

/// Parse, validate, and (when valid) draw the first contacts.
fn exercise(text: &str) {
    if let Ok(s) = Scenario::from_toml("fuzz.toml", text) {
        for c in Arrivals::new(&s, 1, 1.0).take(2000) {
            assert!(c.sent_us <= c.at_us);
        }
    }
}

fn shipped_texts() -> Vec<&'static str> {
    library::names()
        .into_iter()
        .map(|n| library::get(n).expect("listed"))
        .collect()
}

/// Numbers of every shape, including the troublesome ones.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|x| format!("{x:?}")),
        (-5i64..5000).prop_map(|x| x.to_string()),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("0".to_string()),
        Just("1e308".to_string()),
        Just("-0.0".to_string()),
    ]
}

proptest! {
    // A fixed seed: CI runs the same 300 cases each time (a random seed once found a
    // subnormal busyness CV that made the Gamma sampler loop; `rng.rs` tests it now).
    #![proptest_config(ProptestConfig {
        cases: 300,
        rng_seed: proptest::test_runner::RngSeed::Fixed(20_261_129),
        .. ProptestConfig::default()
    })]

    /// Replace one number of a shipped scenario by an arbitrary one.
    #[test]
    fn any_number_anywhere(which in 0usize..6, pos in any::<prop::sample::Index>(), n in number()) {
        let text = shipped_texts()[which];
        let re: Vec<(usize, usize)> = number_spans(text);
        let (a, b) = re[pos.index(re.len())];
        let edited = format!("{}{}{}", &text[..a], n, &text[b..]);
        exercise(&edited);
    }

    /// Delete a random range of lines.
    #[test]
    fn deleted_lines(which in 0usize..6, from in any::<prop::sample::Index>(), len in 1usize..8) {
        let lines: Vec<&str> = shipped_texts()[which].lines().collect();
        let from = from.index(lines.len());
        let kept: Vec<&str> = lines.iter().enumerate().filter(|(i, _)| *i < from || *i >= from + len).map(|(_, l)| *l).collect();
        exercise(&kept.join("\n"));
    }

    /// Replace a quoted string (a date, a duration, a name) by arbitrary text.
    #[test]
    fn any_string_anywhere(which in 0usize..6, pos in any::<prop::sample::Index>(), s in "[ -~]{0,24}") {
        let text = shipped_texts()[which];
        let spans: Vec<(usize, usize)> = text.match_indices('"').map(|(i, _)| i).collect::<Vec<_>>().chunks(2).filter(|c| c.len() == 2).map(|c| (c[0] + 1, c[1])).collect();
        let (a, b) = spans[pos.index(spans.len())];
        let s = s.replace(['"', '\\'], "");
        exercise(&format!("{}{}{}", &text[..a], s, &text[b..]));
    }

    /// Arbitrary bytes.
    #[test]
    fn arbitrary_text(s in "\\PC{0,400}") {
        exercise(&s);
    }
}

/// Byte spans of the numbers in a TOML text (outside comments).
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("");
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let starts = (bytes[i].is_ascii_digit() || bytes[i] == b'-')
                && (i == 0 || matches!(bytes[i - 1], b' ' | b'[' | b'=' | b','));
            let in_string = code[..i].matches('"').count() % 2 == 1;
            if starts && !in_string {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_digit() || matches!(bytes[j], b'.' | b'e' | b'-'))
                {
                    j += 1;
                }
                out.push((offset + i, offset + j));
                i = j;
            } else {
                i += 1;
            }
        }
        offset += line.len();
    }
    out
}
