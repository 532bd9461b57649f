//! People and their credentials: the values an account is made of, parsed at the boundary.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::{Error, OrganizationId, Result, Rule, UserId};

/// An email address, kept as given; compared and looked up by [`Email::key`].
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// A deliberately modest check: one `@`, something on each side, a dot in the domain,
    /// no white space or control characters, at most 254 bytes (RFC 5321's path limit).
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        let invalid = || Error::Rule(Rule::EmailInvalid);
        if s.is_empty() || s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains('@')
        {
            return Err(invalid());
        }
        Ok(Self(s.to_owned()))
    }

    /// For values read back from our own store, which were parsed when written.
    pub fn unchecked(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accounts are unique case-insensitively: `Alice@Example.com` and `alice@example.com`
    /// are one person, as every mail provider in practice treats them.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for Email {
    // Personal data: keep it out of logs that print values with {:?}.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

/// A password as the user typed it. Never printed.
#[derive(Clone)]
pub struct Password(String);

pub const PASSWORD_MIN_CHARS: usize = 8;
/// Bounds the work a single login can cause; far beyond any passphrase.
pub const PASSWORD_MAX_BYTES: usize = 1024;

impl Password {
    /// The policy for new passwords: 8 characters at least, 1 KiB at most, not the email.
    pub fn new_for(raw: &str, email: Option<&Email>) -> Result<Self> {
        if raw.chars().count() < PASSWORD_MIN_CHARS {
            return Err(Error::Rule(Rule::PasswordTooShort));
        }
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(Error::Rule(Rule::PasswordTooLong));
        }
        if let Some(email) = email {
            if raw.trim().to_lowercase() == email.key() {
                return Err(Error::Rule(Rule::PasswordIsEmail));
            }
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password offered at login: not checked against the policy (it may predate it),
    /// only bounded in size.
    pub fn offered(raw: &str) -> Result<Self> {
        if raw.len() > PASSWORD_MAX_BYTES {
            return Err(Error::Unauthenticated("invalid credentials".into()));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Whether XML 1.0 can carry `c` (its `Char` production). The CustomerID facade answers in
/// XML, and any text stored through either facade may be rendered there.
pub fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Free text a person gives about themselves (name, phone): bounded, no control characters,
/// nothing XML cannot carry.
pub fn parse_profile_text(field: &str, raw: &str, max_chars: usize) -> Result<String> {
    let s = raw.trim();
    if s.chars().count() > max_chars {
        return Err(Error::Rule(Rule::TextTooLong {
            field: field.to_owned(),
            max: max_chars,
        }));
    }
    if s.chars().any(|c| c.is_control() || !xml_char(c)) {
        return Err(Error::Rule(Rule::TextUnprintable {
            field: field.to_owned(),
        }));
    }
    Ok(s.to_owned())
}

pub const NAME_MAX_CHARS: usize = 256;
pub const PHONE_MAX_CHARS: usize = 64;

/// Roles a user may hold in an organisation (iGrant's RoleID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrgRole {
    Admin = 1,
    Dpo = 2,
    Developer = 3,
}

impl OrgRole {
    pub fn id(self) -> i64 {
        self as i64
    }

    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            1 => Some(Self::Admin),
            2 => Some(Self::Dpo),
            3 => Some(Self::Developer),
            _ => None,
        }
    }

    pub const ALL: [OrgRole; 3] = [Self::Admin, Self::Dpo, Self::Developer];
}

/// CustomerID's user statuses; iGrant users are `Enabled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Pending = 0,
    Enabled = 1,
    Disabled = 2,
    Locked = 3,
    WaitingForRegistration = 5,
}

impl UserStatus {
    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(Self::Pending),
            1 => Some(Self::Enabled),
            2 => Some(Self::Disabled),
            3 => Some(Self::Locked),
            5 => Some(Self::WaitingForRegistration),
            _ => None,
        }
    }

    /// Only enabled accounts may sign in, through either facade.
    pub fn may_log_in(self) -> bool {
        self == Self::Enabled
    }
}

/// An account as stored.
#[derive(Clone)]
pub struct User {
    pub id: UserId,
    pub email: Option<Email>,
    pub name: String,
    pub phone: String,
    /// The argon2id PHC string; `None` for accounts that cannot log in with a password.
    pub password_hash: Option<String>,
    pub status: UserStatus,
    pub is_platform_admin: bool,
    pub image_id: Option<crate::ImageId>,
    pub last_visit: Option<DateTime<Utc>>,
    /// Bumped on every APIKey rotation or revocation; 0 = no key.
    pub apikey_revision: i64,
    pub apikey_issued_at: Option<DateTime<Utc>>,
    pub client_token: String,
    pub client_type: i64,
    pub created_at: DateTime<Utc>,
    /// CustomerID's `firstname` and `surname` (empty unless set through CustomerID).
    pub first_name: String,
    pub surname: String,
    /// CustomerID's home organisation (`organizationId`); not a subscription.
    pub home_organization_id: Option<OrganizationId>,
    /// When the current address was proven by a mailed link; `None`: never, or not since
    /// it changed. Only a proven address has anything attached to it by address.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The language Accord writes to the person in; `None`: never chosen (English).
    pub language: Option<Language>,
}

/// A language Accord speaks to people in: its pages and its mails (docs/web.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    En,
    Sv,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Sv];

    /// The BCP 47 primary subtag.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Sv => "sv",
        }
    }

    /// The language's name in itself.
    pub fn own_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Sv => "Svenska",
        }
    }

    /// `sv`, `sv-FI`, `SV_se` → Swedish; a language Accord does not speak → `None`.
    pub fn from_code(code: &str) -> Option<Language> {
        let primary = code.split(['-', '_']).next()?.trim().to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.code() == primary)
    }
}

impl User {
    /// A new account with a fresh ID: no password, no APIKey, nothing optional set.
    pub fn new(email: Option<Email>, status: UserStatus, created_at: DateTime<Utc>) -> Self {
        Self {
            id: UserId::new(),
            email,
            name: String::new(),
            phone: String::new(),
            password_hash: None,
            status,
            is_platform_admin: false,
            image_id: None,
            last_visit: None,
            apikey_revision: 0,
            apikey_issued_at: None,
            client_token: String::new(),
            client_type: 0,
            created_at,
            first_name: String::new(),
            surname: String::new(),
            home_organization_id: None,
            email_verified_at: None,
            language: None,
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A user's role in an organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGrant {
    pub organization_id: OrganizationId,
    pub role: OrgRole,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_accepts_ordinary_addresses_and_keys_them_case_insensitively() {
        let e = Email::parse(" Alice.Smith+tag@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "Alice.Smith+tag@Example.COM");
        assert_eq!(e.key(), "alice.smith+tag@example.com");
    }

    #[test]
    fn email_refuses_what_is_not_an_address() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "alice@localhost",
            "a b@example.com",
            "alice@example.com\u{0}",
            "alice@.com",
            "alice@example.",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn password_policy() {
        let email = Email::parse("alice@example.com").unwrap();
        assert!(Password::new_for("short", Some(&email)).is_err());
        assert!(Password::new_for("ALICE@example.com", Some(&email)).is_err());
        assert!(Password::new_for(&"x".repeat(PASSWORD_MAX_BYTES + 1), None).is_err());
        assert!(Password::new_for("correct horse", Some(&email)).is_ok());
        // Eight characters, counted as characters, not bytes.
        assert!(Password::new_for("ääääääää", None).is_ok());
    }

    #[test]
    fn secrets_are_not_printed() {
        let p = Password::new_for("correct horse", None).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        let e = Email::parse("alice@example.com").unwrap();
        assert!(!format!("{e:?}").contains("alice"));
    }

    #[test]
    fn xml_carries_text_but_not_c0_controls_or_noncharacters() {
        for ok in [
            'a', '\t', '\n', '\r', 'é', '\u{2028}', '\u{85}', '😀', '\u{FFFD}',
        ] {
            assert!(xml_char(ok), "{ok:?}");
        }
        for bad in ['\u{0}', '\u{1b}', '\u{8}', '\u{FFFE}', '\u{FFFF}'] {
            assert!(!xml_char(bad), "{bad:?}");
        }
        assert!(parse_profile_text("name", "A\u{FFFF}", 10).is_err());
    }

    #[test]
    fn profile_text_is_bounded_and_clean() {
        assert_eq!(parse_profile_text("name", "  Alice ", 10).unwrap(), "Alice");
        assert!(parse_profile_text("name", "Al\u{7}ice", 10).is_err());
        assert!(parse_profile_text("name", &"a".repeat(11), 10).is_err());
        // Hostile but printable strings are data, not errors.
        assert!(parse_profile_text(
            "name",
            "<script>alert(1)</script>'; DROP TABLE users;--",
            256
        )
        .is_ok());
    }

    #[test]
    fn roles_and_statuses_have_their_wire_codes() {
        assert_eq!(OrgRole::from_id(2), Some(OrgRole::Dpo));
        assert_eq!(OrgRole::from_id(4), None);
        assert_eq!(
            UserStatus::from_code(5),
            Some(UserStatus::WaitingForRegistration)
        );
        assert!(!UserStatus::Locked.may_log_in());
        assert!(UserStatus::Enabled.may_log_in());
    }
}
