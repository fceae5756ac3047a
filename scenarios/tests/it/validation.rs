//! Every class of bad input gets a clear error naming the file, line:column, the field path and
//! what is allowed.

use super::MINIMAL;
use cclab_scenarios::{Scenario, ScenarioError};

fn error(text: &str) -> ScenarioError {
    match Scenario::from_toml("bad.toml", text) {
        Ok(_) => panic!("accepted a bad scenario:\n{text}"),
        Err(e) => e,
    }
}

/// Asserts an error of the expected class at `line` whose message contains every fragment.
fn assert_error(text: &str, line: usize, fragments: &[&str]) {
    let e = error(text);
    assert!(
        matches!(
            e,
            ScenarioError::Invalid { .. } | ScenarioError::Parse { .. }
        ),
        "{e:?}"
    );
    let at = e.location().expect("a location");
    assert_eq!(at.file, "bad.toml");
    assert_eq!(at.line, Some(line), "wrong line for: {e}");
    assert!(at.column.is_some(), "no column: {e}");
    let msg = e.to_string();
    for f in fragments {
        assert!(msg.contains(f), "`{msg}` lacks `{f}`");
    }
}

/// Line (1-based) of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

fn with_event(event: &str) -> String {
    format!("{MINIMAL}\n{event}")
}

#[test]
fn minimal_is_valid() {
    let s = Scenario::from_toml("ok.toml", MINIMAL).expect("valid");
    assert_eq!(s.calendar.days.len(), 7);
}

#[test]
fn shares_must_sum_to_one() {
    let t = MINIMAL.replace("phone = 0.8, email = 0.2", "phone = 0.8, email = 0.3");
    assert_error(
        &t,
        line_of(&t, "ordinary = { phone"),
        &[
            "bad.toml:",
            "channels.ordinary",
            "sum to 1",
            "1.100000000",
            "allowed keys: phone, web_form",
        ],
    );
    let t = MINIMAL.replace(
        "information = 0.7, report = 0.3",
        "information = 0.7, report = 0.2999",
    );
    assert_error(
        &t,
        line_of(&t, "information = 0.7"),
        &["types.ordinary", "sum to 1"],
    );
}

#[test]
fn negative_and_non_finite_numbers() {
    let t = MINIMAL.replace("working_day = 100", "working_day = -3");
    assert_error(
        &t,
        line_of(&t, "working_day = -3"),
        &["baseline.working_day", "must be >= 0, got -3"],
    );
    let t = MINIMAL.replace("working_day = 100", "working_day = nan");
    assert_error(
        &t,
        line_of(&t, "working_day = nan"),
        &["baseline.working_day", "finite"],
    );
    let t = MINIMAL.replace("non_working_day = 10", "non_working_day = inf");
    assert_error(
        &t,
        line_of(&t, "non_working_day = inf"),
        &["baseline.non_working_day", "finite"],
    );
    let t = MINIMAL.replace("days = 7", "days = -1");
    assert_error(
        &t,
        line_of(&t, "days = -1"),
        &["calendar.days", "between 1 and 3660"],
    );
}

#[test]
fn unknown_channel_type_and_field() {
    let t = MINIMAL.replace("phone = 0.8, email = 0.2", "phone = 0.8, telegram = 0.2");
    assert_error(
        &t,
        line_of(&t, "telegram"),
        &[
            "channels.ordinary",
            "unknown field `telegram`",
            "phone",
            "letter",
        ],
    );
    let t = MINIMAL.replace("report = 0.3", "complaint = 0.3");
    assert_error(
        &t,
        line_of(&t, "complaint"),
        &[
            "types.ordinary",
            "unknown field `complaint`",
            "intervention_request",
        ],
    );
    let t = MINIMAL.replace("days = 7", "days = 7\nlength = 3");
    assert_error(
        &t,
        line_of(&t, "length = 3"),
        &["calendar", "unknown field `length`"],
    );
    let t = with_event("[[events]]\nname = \"x\"\nkind = \"volcano\"\n");
    assert_error(
        &t,
        line_of(&t, "volcano"),
        &[
            "events[0].kind",
            "unknown variant `volcano`",
            "satellite_reentry",
            "earthquake",
        ],
    );
}

#[test]
fn events_outside_the_calendar() {
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { total = 10 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-04-01T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "shocks"),
        &[
            "events[0].shocks[0].time",
            "outside the calendar",
            "2012-03-12T00:00",
            "2012-03-19T00:00",
        ],
    );
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { peak_day = \"2012-05-01\", contacts = 100 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "peak_day"),
        &["events[0].size.peak_day", "outside the calendar"],
    );
}

#[test]
fn unknown_time_zone() {
    let t = MINIMAL.replace("days = 7", "days = 7\ntime_zone = \"Europe/Atlantis\"");
    assert_error(
        &t,
        line_of(&t, "Atlantis"),
        &[
            "calendar.time_zone",
            "unknown time zone `Europe/Atlantis`",
            "IANA",
        ],
    );
}

#[test]
fn empty_or_malformed_profile() {
    let t = MINIMAL.replace(
        "profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]",
        "profile = []",
    );
    assert_error(
        &t,
        line_of(&t, "profile = []"),
        &["baseline.profile", "is empty", "24 hourly weights"],
    );
    let t = MINIMAL.replace(
        "profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]",
        "profile = [1, 2, 3]",
    );
    assert_error(
        &t,
        line_of(&t, "profile = [1, 2, 3]"),
        &["baseline.profile", "has 3 weights"],
    );
    let t = MINIMAL.replace(
        "profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, 1,",
        "profile = [0, 0, 0, 0, 0, 0, 0, 0, 0, -1,",
    );
    assert_error(
        &t,
        line_of(&t, "profile = "),
        &["baseline.profile[9]", ">= 0"],
    );
}

#[test]
fn malformed_values_and_shapes() {
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { total = 10 }\nomori = { c = \"4 hours\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "omori"),
        &["events[0].omori.c", "not a duration", "90s, 15m, 4h"],
    );
    let t = with_event(
        "[[events]]\nname = \"f\"\nkind = \"flood\"\nsize = { total = 10 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "shocks"),
        &["events[0].shocks", "not allowed for kind = flood"],
    );
    let t = with_event("[[events]]\nname = \"f\"\nkind = \"flood\"\n");
    assert_error(&t, line_of(&t, "[[events]]"), &["events[0]", "no shape"]);
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { total = 10 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14 25:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "shocks"),
        &["events[0].shocks[0].time", "not a date-time"],
    );
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { total = 5, contacts = 3 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "size"),
        &["events[0].size", "is not a size", "peak_day"],
    );
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "omori"),
        &["events[0].omori.k", "required when the event has no size"],
    );
}

#[test]
fn unreachable_size_and_duplicate_names() {
    // 50 contacts on a day whose baseline alone brings 100.
    let t = with_event(
        "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { peak_day = \"2012-03-14\", contacts = 50 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n",
    );
    assert_error(
        &t,
        line_of(&t, "size"),
        &["events[0].size", "cannot be reached", "100.0"],
    );
    let ev = "[[events]]\nname = \"q\"\nkind = \"earthquake\"\nsize = { total = 10 }\nomori = { c = \"1h\", p = 1.1 }\nshocks = [{ time = \"2012-03-14T10:00\", magnitude = 5 }]\n";
    let t = with_event(&format!("{ev}{ev}"));
    let second = t
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("name = \"q\""))
        .nth(1)
        .expect("two")
        .0
        + 1;
    assert_error(&t, second, &["events[1].name", "used twice"]);
}

#[test]
fn toml_syntax_errors_have_a_position() {
    let t = MINIMAL.replace("days = 7", "days = = 7");
    let e = error(&t);
    assert!(matches!(e, ScenarioError::Parse { .. }), "{e:?}");
    assert_eq!(
        e.location().and_then(|l| l.line),
        Some(line_of(&t, "days = = 7"))
    );
    let t = MINIMAL.replace("working_day = 100\n", "");
    let e = error(&t);
    assert!(e.to_string().contains("missing field `working_day`"), "{e}");
    assert!(e.to_string().contains("baseline"), "{e}");
}

#[test]
fn unknown_scenario_names_list_the_library() {
    let e = cclab_scenarios::load("emilia-2099").expect_err("unknown");
    assert!(matches!(e, ScenarioError::UnknownScenario { .. }));
    assert!(e.to_string().contains("emilia-quake-2012"), "{e}");
    let e = cclab_scenarios::load("no/such/file.toml").expect_err("missing");
    assert!(matches!(e, ScenarioError::Io { .. }), "{e:?}");
}

#[test]
fn csv_curves_load_and_errors_name_the_line() {
    let dir = std::env::temp_dir().join(format!("cclab-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let scenario = format!(
        "{MINIMAL}\n[[events]]\nname = \"mine\"\nkind = \"generic\"\ncurve = {{ interval = \"1h\", csv = \"counts.csv\" }}\n"
    );
    std::fs::write(dir.join("s.toml"), &scenario).expect("write");
    std::fs::write(
        dir.join("counts.csv"),
        "start,count\n2012-03-13T10:00,30\n2012-03-13T11:00,50\n2012-03-13T12:00,20\n",
    )
    .expect("write");
    let s = cclab_scenarios::load(dir.join("s.toml").to_str().expect("utf-8")).expect("valid");
    assert!((s.expected_by_component()[1] - 100.0).abs() < 1e-9);
    std::fs::write(
        dir.join("counts.csv"),
        "start,count\n2012-03-13T10:00,30\n2012-03-13T12:00,50\n",
    )
    .expect("write");
    let e = cclab_scenarios::load(dir.join("s.toml").to_str().expect("utf-8")).expect_err("gap");
    assert!(matches!(e, ScenarioError::Csv { line: 3, .. }), "{e:?}");
    std::fs::write(dir.join("counts.csv"), "start,count\n2012-03-13T10:00,-4\n").expect("write");
    let e =
        cclab_scenarios::load(dir.join("s.toml").to_str().expect("utf-8")).expect_err("negative");
    assert!(
        matches!(e, ScenarioError::Csv { line: 2, .. }) && e.to_string().contains(">= 0"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
