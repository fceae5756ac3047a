//! Profiles: bad ones give clear errors naming the step and key.

use cclab_loadgen::{LoadgenError, Profile};
use std::collections::BTreeMap;

fn parse(text: &str) -> Result<Profile, LoadgenError> {
    Profile::parse("p.toml", text, &BTreeMap::new())
}

fn message(text: &str) -> String {
    match parse(text) {
        Err(LoadgenError::Profile { file, message }) => {
            assert_eq!(file, "p.toml");
            message
        }
        other => panic!("expected a profile error, got {other:?}"),
    }
}

const ROOT: &str = r#"
name = "x"
[[steps]]
name = "create"
method = "POST"
path = "/c"
capture.id = { json = "/id" }
"#;

#[test]
fn a_good_profile_parses() {
    let p = parse(&format!(
        "{ROOT}\n[[steps]]\nname = \"get\"\nafter = \"create\"\npath = \"/c/{{{{capture.id}}}}\"\n"
    ))
    .unwrap();
    assert_eq!(p.steps.len(), 2);
    assert_eq!(p.steps[1].parent, Some(0));
}

#[test]
fn unknown_parent_names_the_step_and_the_choices() {
    let m = message(&format!(
        "{ROOT}\n[[steps]]\nname = \"get\"\nafter = \"crate\"\npath = \"/c\"\n"
    ));
    assert!(
        m.contains("steps[1] (get).after") && m.contains("\"crate\"") && m.contains("create"),
        "{m}"
    );
}

#[test]
fn unknown_placeholder_lists_the_known_ones() {
    let m = message(&format!(
        "{ROOT}\n[[steps]]\nname = \"get\"\nafter = \"create\"\npath = \"/c/{{{{contact.nope}}}}\"\n"
    ));
    assert!(
        m.contains("steps[1] (get).path")
            && m.contains("contact.nope")
            && m.contains("contact.channel"),
        "{m}"
    );
}

#[test]
fn captures_come_from_ancestors_only() {
    let text = format!(
        "{ROOT}\n[[steps]]\nname = \"a\"\nafter = \"create\"\npath = \"/a\"\ncapture.x = {{ json = \"/x\" }}\n\
         [[steps]]\nname = \"b\"\nafter = \"create\"\npath = \"/b/{{{{capture.x}}}}\"\n"
    );
    let m = message(&text);
    assert!(
        m.contains("steps[2] (b)") && m.contains("capture.x") && m.contains("ancestor"),
        "{m}"
    );
}

#[test]
fn unknown_keys_and_bad_values_are_refused() {
    let m = message("name = \"x\"\n[[steps]]\nname = \"a\"\npath = \"/a\"\nmethd = \"GET\"\n");
    assert!(m.contains("methd"), "{m}");
    let m = message("name = \"x\"\n[[steps]]\nname = \"a\"\npath = \"a\"\n");
    assert!(m.contains("path") && m.contains("'/'"), "{m}");
    let m = message("name = \"x\"\n[[steps]]\nname = \"a\"\npath = \"/a\"\nexpect = [999]\n");
    assert!(m.contains("expect"), "{m}");
    let m = message(&format!(
        "{ROOT}\n[[steps]]\nname = \"b\"\nafter = \"create\"\npath = \"/b\"\nprobability = 1.5\n"
    ));
    assert!(m.contains("probability"), "{m}");
    let m = message(&format!(
        "{ROOT}\n[[steps]]\nname = \"b\"\nafter = \"create\"\npath = \"/b\"\ndelay = {{ mean = \"soon\" }}\n"
    ));
    assert!(m.contains("delay.mean") && m.contains("soon"), "{m}");
    let m = message("name = \"x\"\nsteps = []\n");
    assert!(m.contains("at least one"), "{m}");
}

#[test]
fn choice_weights_may_not_exceed_one() {
    let text = format!(
        "{ROOT}\n[[steps]]\nname = \"a\"\nafter = \"create\"\npath = \"/a\"\nchoice = {{ group = \"g\", weight = 0.7 }}\n\
         [[steps]]\nname = \"b\"\nafter = \"create\"\npath = \"/b\"\nchoice = {{ group = \"g\", weight = 0.4 }}\n"
    );
    let m = message(&text);
    assert!(
        m.contains("steps[2] (b).choice.weight") && m.contains("\"g\""),
        "{m}"
    );
}

#[test]
fn variables_must_have_values() {
    // The reference profile's operator steps need a token.
    let err = Profile::reference(&BTreeMap::new())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("operator_token") && err.contains("--var"),
        "{err}"
    );
    let mut vars = BTreeMap::new();
    vars.insert(
        "operator_token".to_string(),
        "secret-token-123456".to_string(),
    );
    let p = Profile::reference(&vars).unwrap();
    assert!(p.steps.iter().any(|s| {
        s.headers
            .iter()
            .any(|(_, t)| t.as_literal() == Some("Bearer secret-token-123456"))
    }));
}

#[test]
fn profile_files_load_by_path_and_report_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, ROOT).unwrap();
    Profile::load(path.to_str().unwrap(), &BTreeMap::new()).unwrap();
    let missing = dir.path().join("missing.toml");
    let r = Profile::load(missing.to_str().unwrap(), &BTreeMap::new());
    assert!(matches!(r, Err(LoadgenError::Io { .. })), "{r:?}");
}
