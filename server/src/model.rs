//! The domain vocabulary of the API: channels, request types, case states, and the validated
//! shapes that cross the HTTP and storage boundaries.
//!
//! Architecture invariant: a [`NewContact`] only exists after [`ContactInput::validate`], so the
//! store never re-checks lengths or enum values.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Upper bounds on free-text fields, in characters. They keep one request from filling the disk
/// and keep the public pages readable.
pub const MAX_SUBJECT: usize = 200;
pub const MAX_MESSAGE: usize = 10_000;
pub const MAX_EVENT: usize = 64;
pub const MAX_CONTACT_FIELD: usize = 200;
pub const MAX_NOTE: usize = 10_000;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the wire spelling; the error message lists the accepted values.
            pub fn parse(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {:?}, expected one of {}",
                        $what,
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(
    /// The way a contact reached the department (the dossier's six channels).
    Channel, "channel" {
        Phone => "phone",
        WebForm => "web_form",
        Email => "email",
        Pec => "pec",
        Fax => "fax",
        Letter => "letter",
    }
);

string_enum!(
    /// What the citizen asks for; "offer" became frequent after the 2012 earthquake.
    RequestType, "request type" {
        Information => "information",
        Report => "report",
        Offer => "offer",
        InterventionRequest => "intervention_request",
        Other => "other",
    }
);

string_enum!(
    /// Where a case is in its life: received, taken by a front-office operator, escalated to the
    /// back office, or closed.
    CaseStatus, "status" {
        Received => "received",
        FrontOffice => "front_office",
        BackOffice => "back_office",
        Closed => "closed",
    }
);

string_enum!(
    /// The office that closed a case: the dossier's FO/BO split is computed from it.
    Office, "office" {
        FrontOffice => "front_office",
        BackOffice => "back_office",
    }
);

/// The body of `POST /contacts` as sent. Fields are strings so that an unknown channel gets a
/// message naming the accepted values rather than a serde variant error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    pub channel: String,
    pub request_type: String,
    #[serde(default)]
    pub event: Option<String>,
    pub subject: String,
    pub message: String,
    #[serde(default)]
    pub citizen: Option<CitizenInput>,
}

/// Optional contact details; they are personal data, shown only to operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitizenInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

/// A validated contact, ready to become a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewContact {
    pub channel: Channel,
    pub request_type: RequestType,
    pub event: Option<String>,
    pub subject: String,
    pub message: String,
    pub citizen: CitizenInput,
}

/// Why a contact was refused: the field and a lowercase explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

fn field(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// Trims a text field and checks it is within `max` characters (and not empty when `required`).
pub fn check_text(
    name: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        return Err(field(name, "must not be empty"));
    }
    let chars = trimmed.chars().count();
    if chars > max {
        return Err(field(
            name,
            format!("must be at most {max} characters, got {chars}"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(field(name, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

fn optional_text(
    name: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) => {
            let v = check_text(name, v, max, false)?;
            Ok((!v.is_empty()).then_some(v))
        }
    }
}

impl ContactInput {
    /// Checks every field and returns the contact the store accepts.
    pub fn validate(self) -> Result<NewContact, FieldError> {
        let channel = Channel::parse(self.channel.trim()).map_err(|m| field("channel", m))?;
        let request_type =
            RequestType::parse(self.request_type.trim()).map_err(|m| field("request_type", m))?;
        // Event tags are names from scenarios ("emilia-quake-2012", "late snow"): any text
        // without control characters, short enough to label a case.
        let event = optional_text("event", self.event.as_deref(), MAX_EVENT)?;
        let subject = check_text("subject", &self.subject, MAX_SUBJECT, true)?;
        let message = check_text("message", &self.message, MAX_MESSAGE, true)?;
        let c = self.citizen.unwrap_or_default();
        let citizen = CitizenInput {
            name: optional_text("citizen.name", c.name.as_deref(), MAX_CONTACT_FIELD)?,
            email: optional_text("citizen.email", c.email.as_deref(), MAX_CONTACT_FIELD)?,
            phone: optional_text("citizen.phone", c.phone.as_deref(), MAX_CONTACT_FIELD)?,
        };
        if let Some(email) = &citizen.email
            && !email.contains('@')
        {
            return Err(field("citizen.email", "must contain '@'"));
        }
        Ok(NewContact {
            channel,
            request_type,
            event,
            subject,
            message,
            citizen,
        })
    }
}

/// Milliseconds since the Unix epoch, the store's clock unit.
pub type Millis = i64;

/// Formats store milliseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The 201 body of `POST /contacts`; stored verbatim with an idempotency key so a retry gets the
/// very same bytes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactReceipt {
    pub number: i64,
    pub status: CaseStatus,
    pub received_at: String,
}

/// A whole case as the store keeps it. Public and operator views are cut from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRecord {
    pub number: i64,
    pub contact: NewContact,
    pub status: CaseStatus,
    pub received_at: Millis,
    pub taken_at: Option<Millis>,
    pub taken_by: Option<String>,
    pub escalated_at: Option<Millis>,
    pub escalated_by: Option<String>,
    pub escalation_note: Option<String>,
    pub closed_at: Option<Millis>,
    pub closed_by: Option<String>,
    pub closed_office: Option<Office>,
    pub resolution: Option<String>,
}

/// `GET /cases/{number}`: what anyone may see. No subject, message or contact details, since
/// they may hold personal data.
#[derive(Debug, Clone, Serialize)]
pub struct PublicCase {
    pub number: i64,
    pub status: CaseStatus,
    pub channel: Channel,
    pub request_type: RequestType,
    pub event: Option<String>,
    pub received_at: String,
    pub taken_at: Option<String>,
    pub escalated_at: Option<String>,
    pub closed_at: Option<String>,
    pub closed_office: Option<Office>,
}

impl From<&CaseRecord> for PublicCase {
    fn from(r: &CaseRecord) -> Self {
        PublicCase {
            number: r.number,
            status: r.status,
            channel: r.contact.channel,
            request_type: r.contact.request_type,
            event: r.contact.event.clone(),
            received_at: rfc3339(r.received_at),
            taken_at: r.taken_at.map(rfc3339),
            escalated_at: r.escalated_at.map(rfc3339),
            closed_at: r.closed_at.map(rfc3339),
            closed_office: r.closed_office,
        }
    }
}

/// The operator view: everything, including the text and contact details.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorCase {
    #[serde(flatten)]
    pub public: PublicCase,
    pub subject: String,
    pub message: String,
    pub citizen: CitizenInput,
    pub taken_by: Option<String>,
    pub escalated_by: Option<String>,
    pub escalation_note: Option<String>,
    pub closed_by: Option<String>,
    pub resolution: Option<String>,
}

impl From<&CaseRecord> for OperatorCase {
    fn from(r: &CaseRecord) -> Self {
        OperatorCase {
            public: PublicCase::from(r),
            subject: r.contact.subject.clone(),
            message: r.contact.message.clone(),
            citizen: r.contact.citizen.clone(),
            taken_by: r.taken_by.clone(),
            escalated_by: r.escalated_by.clone(),
            escalation_note: r.escalation_note.clone(),
            closed_by: r.closed_by.clone(),
            resolution: r.resolution.clone(),
        }
    }
}

/// An operator's move on a case. The store checks it against the current status atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// received -> front_office: an FO operator takes the case.
    Take,
    /// front_office -> closed (by the FO): the operator answered at once.
    Answer { resolution: String },
    /// front_office -> back_office: the case needs research by a referent.
    Escalate { note: Option<String> },
    /// back_office -> closed (by the BO).
    Close { resolution: String },
}

impl Transition {
    /// The verb used in URLs and error messages.
    pub fn verb(&self) -> &'static str {
        match self {
            Transition::Take => "take",
            Transition::Answer { .. } => "answer",
            Transition::Escalate { .. } => "escalate",
            Transition::Close { .. } => "close",
        }
    }

    /// The status a case must have for this move.
    pub fn from_status(&self) -> CaseStatus {
        match self {
            Transition::Take => CaseStatus::Received,
            Transition::Answer { .. } | Transition::Escalate { .. } => CaseStatus::FrontOffice,
            Transition::Close { .. } => CaseStatus::BackOffice,
        }
    }

    /// The status after the move.
    pub fn to_status(&self) -> CaseStatus {
        match self {
            Transition::Take => CaseStatus::FrontOffice,
            Transition::Escalate { .. } => CaseStatus::BackOffice,
            Transition::Answer { .. } | Transition::Close { .. } => CaseStatus::Closed,
        }
    }
}

/// Totals for the transparency view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub total: u64,
    pub open: u64,
    pub closed: u64,
    pub by_status: Vec<Count>,
    pub closed_front_office: u64,
    pub closed_back_office: u64,
    /// Shares of the total, in percent, as the dossier reports them (FO, BO, still open).
    pub share_front_office: f64,
    pub share_back_office: f64,
    pub share_open: f64,
    pub by_channel: Vec<Count>,
    pub by_request_type: Vec<Count>,
    pub by_day: Vec<DayCount>,
}

/// One labelled count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub key: String,
    pub count: u64,
}

/// Cases received and closed on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: String,
    pub received: u64,
    pub closed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(channel: &str) -> ContactInput {
        ContactInput {
            channel: channel.into(),
            request_type: "information".into(),
            event: Some("uars-2011".into()),
            subject: "  satellite  ".into(),
            message: "where will it fall?".into(),
            citizen: None,
        }
    }

    #[test]
    fn validate_accepts_and_trims() {
        let c = input("phone").validate().unwrap();
        assert_eq!(c.channel, Channel::Phone);
        assert_eq!(c.subject, "satellite");
    }

    #[test]
    fn unknown_channel_lists_the_accepted_ones() {
        let err = input("sms").validate().unwrap_err();
        assert_eq!(err.field, "channel");
        assert!(err.message.contains("web_form, email, pec"), "{err}");
    }

    #[test]
    fn oversize_and_empty_fields_are_refused() {
        let mut i = input("fax");
        i.subject = "x".repeat(MAX_SUBJECT + 1);
        assert_eq!(i.validate().unwrap_err().field, "subject");
        let mut i = input("fax");
        i.message = "   ".into();
        assert_eq!(i.validate().unwrap_err().field, "message");
        let mut i = input("fax");
        i.event = Some("x".repeat(MAX_EVENT + 1));
        assert_eq!(i.validate().unwrap_err().field, "event");
        let mut i = input("fax");
        i.event = Some("late snow".into());
        assert_eq!(i.validate().unwrap().event.as_deref(), Some("late snow"));
        let mut i = input("fax");
        i.event = Some(String::new());
        assert_eq!(i.validate().unwrap().event, None);
    }

    #[test]
    fn every_enum_round_trips() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Ok(*c));
        }
        for t in RequestType::ALL {
            assert_eq!(RequestType::parse(t.as_str()), Ok(*t));
        }
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::parse(s.as_str()), Ok(*s));
        }
    }
}
