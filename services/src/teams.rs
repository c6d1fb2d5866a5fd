//! Teams: Slipway's own groups, which grant their members repositories at a level (how local
//! users get access, and how anyone gets more than GitHub grants). Instance admins change them.

use domain::RepositoryId;
use domain::identity::{Team, TeamGrant, UserId};
use domain::time::now_ms;
use serde::Deserialize;

use crate::accounts::Accounts;
use crate::audit::Record;
use crate::caller::{Action, Caller, Level};
use crate::parse::parse_choice;
use crate::{Error, Result};

/// A team to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CreateTeam {
    pub name: String,
}

/// The level a team holds on a repository.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct GrantLevel {
    #[schema(value_type = Level)]
    pub level: String,
}

impl Accounts {
    async fn may_change_teams(&self, caller: &Caller) -> Result<()> {
        crate::access::authorize(self.store.as_ref(), caller, Action::TeamChange, None).await
    }

    /// Every team with its members and repositories (any signed-in person).
    pub async fn list_teams(&self, caller: &Caller) -> Result<Vec<Team>> {
        crate::access::authorize(self.store.as_ref(), caller, Action::TeamRead, None).await?;
        Ok(self.store.list_teams().await?)
    }

    pub async fn create_team(&self, caller: &Caller, input: CreateTeam) -> Result<Team> {
        self.may_change_teams(caller).await?;
        let name = input.name.trim().to_owned();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid(
                "name",
                "a team needs a name of 1 to 100 characters",
            ));
        }
        let record = Record::of(Action::TeamChange)
            .target(format!("team {name}"))
            .details("created");
        let created = self
            .store
            .create_team(&name, now_ms())
            .await
            .map_err(Error::from);
        self.audited(caller, record, created).await
    }

    pub async fn delete_team(&self, caller: &Caller, id: i64) -> Result<()> {
        self.may_change_teams(caller).await?;
        let team = self.store.get_team(id).await?;
        let record = Record::of(Action::TeamChange)
            .target(format!("team {}", team.name))
            .details("deleted");
        let deleted = self.store.delete_team(id).await.map_err(Error::from);
        self.audited(caller, record, deleted).await
    }

    /// Adds a member (`add`) or removes one.
    pub async fn set_member(
        &self,
        caller: &Caller,
        team: i64,
        user: UserId,
        add: bool,
    ) -> Result<Team> {
        self.may_change_teams(caller).await?;
        let found = self.store.get_team(team).await?;
        let member = self.store.get_user(user).await?;
        let verb = if add { "added" } else { "removed" };
        let record = Record::of(Action::TeamChange)
            .target(format!("team {}", found.name))
            .details(format!("member {} {verb}", member.login));
        let changed = async {
            if add {
                self.store.add_team_member(team, user).await?;
            } else {
                self.store.remove_team_member(team, user).await?;
            }
            Ok(self.store.get_team(team).await?)
        }
        .await;
        self.audited(caller, record, changed).await
    }

    /// Grants a repository to a team at a level (`Some`), or takes it back (`None`).
    pub async fn set_grant(
        &self,
        caller: &Caller,
        team: i64,
        repository: RepositoryId,
        level: Option<GrantLevel>,
    ) -> Result<Team> {
        self.may_change_teams(caller).await?;
        let found = self.store.get_team(team).await?;
        let repo = self.store.get_repository(repository).await?;
        let level = match level {
            Some(input) => Some(
                parse_choice(
                    "level",
                    Some(&input.level),
                    Level::parse,
                    &Level::ALL.map(|l| l.as_str()),
                )?
                .ok_or_else(|| {
                    Error::invalid("level", "level is required: read, write or admin")
                })?,
            ),
            None => None,
        };
        let record = Record::of(Action::TeamChange)
            .on(Some(&repo))
            .target(format!("team {}", found.name))
            .details(match level {
                Some(level) => format!("granted {}", level.as_str()),
                None => "revoked".to_owned(),
            });
        let changed = async {
            match level {
                Some(level) => {
                    let grant = TeamGrant {
                        repository_id: repository,
                        level,
                    };
                    self.store.grant_team(team, grant).await?;
                }
                None => self.store.revoke_team(team, repository).await?,
            }
            Ok(self.store.get_team(team).await?)
        }
        .await;
        self.audited(caller, record, changed).await
    }
}
