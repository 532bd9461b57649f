//! Data-subject requests (GDPR Art. 15, 17, 20): a person asks an organisation for a copy
//! of what it holds about them, or for its erasure; the organisation answers within a
//! month (Art. 12(3)). States and their numbers are iGrant.io's.

use chrono::{DateTime, Months, Utc};

use crate::{DataRequestId, Error, OrganizationId, Result, UserId};

/// What is asked. The numbers are iGrant.io's `Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataRequestKind {
    Delete,
    Download,
}

impl DataRequestKind {
    pub const ALL: [DataRequestKind; 2] = [Self::Delete, Self::Download];

    pub fn id(self) -> i64 {
        match self {
            Self::Delete => 1,
            Self::Download => 2,
        }
    }

    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    /// iGrant.io's `TypeStr`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Delete => "Delete Data",
            Self::Download => "Download Data",
        }
    }

    /// The word of the paths and event types (`data-download`, `data.download.*`).
    pub fn word(self) -> &'static str {
        match self {
            Self::Delete => "delete",
            Self::Download => "download",
        }
    }
}

/// Where a request stands. The numbers are iGrant.io's `State`; 3–5 were never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataRequestState {
    Initiated,
    Acknowledged,
    ProcessedWithoutAction,
    ProcessedWithAction,
    CancelledByUser,
}

impl DataRequestState {
    pub const ALL: [DataRequestState; 5] = [
        Self::Initiated,
        Self::Acknowledged,
        Self::ProcessedWithoutAction,
        Self::ProcessedWithAction,
        Self::CancelledByUser,
    ];

    pub fn id(self) -> i64 {
        match self {
            Self::Initiated => 1,
            Self::Acknowledged => 2,
            Self::ProcessedWithoutAction => 6,
            Self::ProcessedWithAction => 7,
            Self::CancelledByUser => 8,
        }
    }

    pub fn from_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.id() == id)
    }

    /// iGrant.io's `StateStr`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Initiated => "Request initiated",
            Self::Acknowledged => "Request acknowledged",
            Self::ProcessedWithoutAction => "Request processed without action",
            Self::ProcessedWithAction => "Request processed with action",
            Self::CancelledByUser => "Request cancelled by user",
        }
    }

    /// Open: the organisation still owes an answer.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Initiated | Self::Acknowledged)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRequest {
    pub id: DataRequestId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub kind: DataRequestKind,
    pub state: DataRequestState,
    /// The organisation's comment on the latest step (empty when none).
    pub comment: String,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it reached a closed state.
    pub closed_at: Option<DateTime<Utc>>,
}

/// The longest comment a step carries.
pub const MAX_COMMENT_CHARS: usize = 2000;

impl DataRequest {
    /// A request as the person opens it. Only one of each kind may be open at a time.
    pub fn open(
        organization_id: OrganizationId,
        user_id: UserId,
        kind: DataRequestKind,
        open_of_kind: bool,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        if open_of_kind {
            return Err(Error::invalid(format!(
                "a request to {} your data is already open with this organisation",
                kind.word()
            )));
        }
        Ok(Self {
            id: DataRequestId::new(),
            organization_id,
            user_id,
            kind,
            state: DataRequestState::Initiated,
            comment: String::new(),
            requested_at: now,
            updated_at: now,
            closed_at: None,
        })
    }

    /// The answer is due a month after the request (Art. 12(3)); the organisation may
    /// extend it by telling the person why, which Accord records as a comment.
    pub fn due_at(&self) -> DateTime<Utc> {
        self.requested_at
            .checked_add_months(Months::new(1))
            .unwrap_or(self.requested_at)
    }

    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.is_open() && now > self.due_at()
    }

    /// Whether the person may fetch the copy a download request asks for: once the
    /// organisation answers it with action (7), or, where the organisation releases
    /// copies at once, from the moment it is asked. A request answered without action
    /// (the organisation refused) or cancelled releases nothing.
    pub fn export_released(&self, at_once: bool) -> bool {
        self.kind == DataRequestKind::Download
            && (self.state == DataRequestState::ProcessedWithAction
                || (at_once && self.state.is_open()))
    }

    /// Whether answering it now erases what the organisation holds about the person: a
    /// delete request the organisation has just processed with action.
    pub fn erases(&self) -> bool {
        self.kind == DataRequestKind::Delete && self.state == DataRequestState::ProcessedWithAction
    }

    /// The person withdraws it while it is open.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> Result<()> {
        if !self.state.is_open() {
            return Err(Error::invalid("this request is closed"));
        }
        self.state = DataRequestState::CancelledByUser;
        self.updated_at = now;
        self.closed_at = Some(now);
        Ok(())
    }

    /// The organisation moves it forward: acknowledged, then processed (with or without
    /// action). Never back, never out of a closed state, never to the person's own
    /// "cancelled". Repeating the current open state only changes the comment.
    pub fn advance(&mut self, to: i64, comment: &str, now: DateTime<Utc>) -> Result<()> {
        let to = DataRequestState::from_id(to).ok_or_else(|| {
            Error::invalid("state must be 2 (acknowledged), 6 (processed without action) or 7 (processed with action)")
        })?;
        if to == DataRequestState::Initiated || to == DataRequestState::CancelledByUser {
            return Err(Error::invalid(
                "state must be 2 (acknowledged), 6 (processed without action) or 7 (processed with action)",
            ));
        }
        if !self.state.is_open() {
            return Err(Error::invalid("this request is closed"));
        }
        if to.id() < self.state.id() {
            return Err(Error::invalid("a request does not go back"));
        }
        let comment = comment.trim();
        if comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(Error::invalid(format!(
                "comment: at most {MAX_COMMENT_CHARS} characters"
            )));
        }
        if comment.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Error::invalid("comment: no control characters"));
        }
        self.state = to;
        self.comment = comment.to_owned();
        self.updated_at = now;
        if !to.is_open() {
            self.closed_at = Some(now);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 31, 9, 0, 0).unwrap()
    }

    fn request() -> DataRequest {
        DataRequest::open(
            OrganizationId::new(),
            UserId::new(),
            DataRequestKind::Download,
            false,
            t0(),
        )
        .unwrap()
    }

    #[test]
    fn one_open_request_of_a_kind() {
        assert!(DataRequest::open(
            OrganizationId::new(),
            UserId::new(),
            DataRequestKind::Delete,
            true,
            t0()
        )
        .is_err());
    }

    #[test]
    fn due_a_month_later_and_overdue_only_while_open() {
        let mut r = request();
        // 31 January + one month: the last day of February.
        assert_eq!(
            r.due_at(),
            Utc.with_ymd_and_hms(2026, 2, 28, 9, 0, 0).unwrap()
        );
        let late = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
        assert!(!r.is_overdue(r.due_at()));
        assert!(r.is_overdue(late));
        r.advance(7, "sent", late).unwrap();
        assert!(!r.is_overdue(late));
    }

    #[test]
    fn the_organisation_moves_forward_only() {
        let mut r = request();
        r.advance(2, "on it", t0()).unwrap();
        assert_eq!(r.state, DataRequestState::Acknowledged);
        assert_eq!(r.closed_at, None);
        r.advance(2, "still on it", t0()).unwrap();
        assert_eq!(r.comment, "still on it");
        for bad in [1, 8, 3, 0, 99] {
            assert!(r.advance(bad, "", t0()).is_err(), "{bad}");
        }
        r.advance(6, "we hold nothing", t0()).unwrap();
        assert_eq!(r.closed_at, Some(t0()));
        assert!(r.advance(7, "", t0()).is_err(), "closed stays closed");
        assert!(r.cancel(t0()).is_err());
    }

    #[test]
    fn the_person_cancels_while_open() {
        let mut r = request();
        r.cancel(t0()).unwrap();
        assert_eq!(r.state, DataRequestState::CancelledByUser);
        assert!(r.cancel(t0()).is_err());
        assert!(r.advance(2, "", t0()).is_err());
    }

    #[test]
    fn a_copy_is_released_by_the_answer_or_at_once() {
        let mut r = request();
        assert!(!r.export_released(false));
        assert!(r.export_released(true));
        r.advance(2, "", t0()).unwrap();
        assert!(!r.export_released(false));
        let mut refused = r.clone();
        refused.advance(6, "", t0()).unwrap();
        assert!(!refused.export_released(true));
        r.advance(7, "", t0()).unwrap();
        assert!(r.export_released(false));
        let mut cancelled = request();
        cancelled.cancel(t0()).unwrap();
        assert!(!cancelled.export_released(true));
        let mut delete = DataRequest::open(
            OrganizationId::new(),
            UserId::new(),
            DataRequestKind::Delete,
            false,
            t0(),
        )
        .unwrap();
        assert!(!delete.export_released(true));
        assert!(!delete.erases());
        delete.advance(7, "", t0()).unwrap();
        assert!(!delete.export_released(true));
        assert!(delete.erases());
    }

    #[test]
    fn comments_are_bounded_text() {
        let mut r = request();
        assert!(r
            .advance(2, &"x".repeat(MAX_COMMENT_CHARS + 1), t0())
            .is_err());
        assert!(r.advance(2, "a\u{0}b", t0()).is_err());
        r.advance(2, "line one\nline two", t0()).unwrap();
    }
}
