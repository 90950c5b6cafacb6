//! Duplicate detection's API objects: candidates of one user, groups of the worklist, the
//! pairs joining them, and each field's part in a score.

use async_graphql::{Context, ID, Object, SimpleObject, dataloader::DataLoader};
use uuid::Uuid;

use crate::error::AppError;
use crate::graphql::loaders::UserLoader;
use crate::graphql::types::user::User;
use crate::services::duplicates::{self, Candidate, Group, ShownReason, StoredPair};

/// A field compared when looking for duplicates. Medical, dietary and emergency-contact
/// details and dates of birth are never compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::matching::Field")]
pub enum MatchField {
    /// The email's mailbox: lowercased, without `+tag`, Gmail dots ignored.
    Email,
    /// The first name, folded to ASCII lowercase.
    FirstName,
    /// The last name, folded to ASCII lowercase.
    LastName,
    /// Phone and mobile numbers in international form, either against either.
    Phone,
    /// The company name without punctuation or legal suffixes (Ltd, PLC, LLP...).
    Company,
    /// The postcode (SIMILAR: the same outward code, e.g. LS1).
    Postcode,
}

/// How a field's two values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(remote = "crate::services::matching::Level")]
pub enum MatchLevel {
    /// The same once normalised.
    Exact,
    /// Close: a typo, a name that sounds the same, the same postcode district.
    Similar,
    /// Both given, and not close.
    Different,
    /// Missing on one side or both: no evidence either way (weight 0).
    Missing,
}

/// One field's part in a duplicate score.
#[derive(SimpleObject)]
pub struct MatchReason {
    /// The field compared.
    pub field: MatchField,
    /// How the two values compare.
    pub level: MatchLevel,
    /// The level's Fellegi–Sunter weight, log2(m/u): positive for evidence of one person,
    /// negative for evidence of two.
    pub weight: f64,
    /// The value on the first user's side, as their profile shows it (null: missing).
    pub left: Option<String>,
    /// The value on the other user's side (null: missing).
    pub right: Option<String>,
}

impl From<ShownReason> for MatchReason {
    fn from(r: ShownReason) -> Self {
        Self {
            field: r.field.into(),
            level: r.level.into(),
            weight: r.weight,
            left: r.left,
            right: r.right,
        }
    }
}

/// Another customer who may be the same person as the user asked about.
pub struct DuplicateCandidate {
    user: User,
    score: f64,
    match_weight: f64,
    reasons: Vec<ShownReason>,
}

impl From<Candidate> for DuplicateCandidate {
    fn from(c: Candidate) -> Self {
        Self {
            user: User::new(c.user),
            score: c.score,
            match_weight: c.match_weight,
            reasons: c.reasons,
        }
    }
}

/// Another customer who may be the same person as the user asked about.
#[Object]
impl DuplicateCandidate {
    /// The other customer.
    async fn user(&self) -> &User {
        &self.user
    }
    /// The probability (0 to 1) that the two are the same person.
    async fn score(&self) -> f64 {
        self.score
    }
    /// The log2-odds the score comes from: the prior plus every reason's weight.
    async fn match_weight(&self) -> f64 {
        self.match_weight
    }
    /// Every compared field, with its level, weight and the two values (left: the user
    /// asked about; right: this candidate).
    async fn reasons(&self) -> Vec<MatchReason> {
        self.reasons.iter().cloned().map(Into::into).collect()
    }
}

/// Two customers scored as likely the same person, as stored for the worklist.
pub struct DuplicatePair(StoredPair);

/// Two customers scored as likely the same person, as stored for the worklist (kept up to
/// date on every profile change, never rescored on read).
#[Object]
impl DuplicatePair {
    /// The pair's id: the two user ids, smaller first, joined by `:`.
    async fn id(&self) -> ID {
        ID(format!("{}:{}", self.0.user_a, self.0.user_b))
    }
    /// The user with the smaller id.
    async fn user_a(&self) -> User {
        User::unread(self.0.user_a)
    }
    /// The user with the greater id.
    async fn user_b(&self) -> User {
        User::unread(self.0.user_b)
    }
    /// The probability (0 to 1) that the two are the same person.
    async fn score(&self) -> f64 {
        self.0.score
    }
    /// The log2-odds the score comes from: the prior plus every reason's weight.
    async fn match_weight(&self) -> f64 {
        self.0.match_weight
    }
    /// Every compared field, with its level, weight and the two values (left: `userA`;
    /// right: `userB`).
    async fn reasons(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MatchReason>> {
        let users = ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_many([self.0.user_a, self.0.user_b])
            .await
            .map_err(|e| AppError::internal(anyhow::anyhow!("{e}")))?;
        let (Some(a), Some(b)) = (users.get(&self.0.user_a), users.get(&self.0.user_b)) else {
            return Err(AppError::NotFound("user").into());
        };
        Ok(duplicates::shown_reasons(&self.0.reasons, a, b)
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// A group of customers who are likely one person: joined by pairs at or above the
/// worklist's `minScore`.
pub struct DuplicateGroup(Group);

impl From<Group> for DuplicateGroup {
    fn from(g: Group) -> Self {
        Self(g)
    }
}

/// A group of customers who are likely one person: joined by pairs at or above the
/// worklist's `minScore`.
#[Object]
impl DuplicateGroup {
    /// The group's id: its smallest user id (it changes when the group's members do).
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// The customers in the group, by id.
    async fn users(&self) -> Vec<User> {
        self.0.user_ids.iter().copied().map(User::unread).collect()
    }
    /// The ids of the customers in the group.
    async fn user_ids(&self) -> Vec<Uuid> {
        self.0.user_ids.clone()
    }
    /// The group's highest pair score.
    async fn best_score(&self) -> f64 {
        self.0.best_score
    }
    /// The pairs joining the group, best first.
    async fn pairs(&self) -> Vec<DuplicatePair> {
        self.0.pairs.iter().cloned().map(DuplicatePair).collect()
    }
}

/// Extra fields of the worklist.
#[derive(SimpleObject)]
pub struct DuplicateGroupConnectionFields {
    /// How many groups there are at this `minScore`, over all pages.
    pub total_count: i64,
}
