//! Users: created, listed, given a role or a password, removed (instance admins; the command
//! line as Slipway itself), and the first admin of a new instance.

use domain::identity::{InstanceRole, NewUser, User, UserId};
use serde::{Deserialize, Serialize};

use crate::accounts::Accounts;
use crate::audit::Record;
use crate::caller::{Action, Caller};
use crate::credentials::{check_password, hash_password, new_password};
use crate::parse::parse_choice;
use crate::{Error, Result};

/// The login the first admin of a new instance gets.
pub const FIRST_ADMIN: &str = "admin";

/// A user to add.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    /// Letters, digits, `-`, `_` and `.`; at most 64.
    pub login: String,
    /// `member` (default), `operator` or `admin`.
    #[schema(value_type = Option<InstanceRole>)]
    pub role: Option<String>,
    /// At least 12 characters; generated (and answered once) when absent.
    pub password: Option<String>,
}

/// A new user, with the generated password when none was given (shown once).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedUser {
    pub user: User,
    pub generated_password: Option<String>,
}

/// What to change about a user.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct UpdateUser {
    #[schema(value_type = Option<InstanceRole>)]
    pub role: Option<String>,
    /// A new password (at least 12 characters); their sessions end.
    pub password: Option<String>,
}

fn check_login(login: &str) -> Result<()> {
    let valid = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid(
            "login",
            format!("login `{login}` must be 1 to 64 letters, digits, `-`, `_` or `.`"),
        ))
    }
}

fn parse_role(role: Option<&str>) -> Result<Option<InstanceRole>> {
    parse_choice(
        "role",
        role,
        InstanceRole::parse,
        &InstanceRole::ALL.map(|r| r.as_str()),
    )
}

impl Accounts {
    /// Adds a local user (instance admins).
    pub async fn create_user(&self, caller: &Caller, input: CreateUser) -> Result<CreatedUser> {
        crate::access::authorize(self.store.as_ref(), caller, Action::UserCreate, None).await?;
        let login = input.login.trim().to_owned();
        check_login(&login)?;
        let role = parse_role(input.role.as_deref())?.unwrap_or_default();
        let (password, generated) = match input.password {
            Some(password) => {
                check_password(&password)?;
                (password, None)
            }
            None => {
                let password = new_password();
                (password.clone(), Some(password))
            }
        };
        let hash = hash_off_thread(password).await?;
        let record = Record::of(Action::UserCreate)
            .target(login.clone())
            .details(format!("role {}", role.as_str()));
        let new = NewUser {
            login,
            role,
            password_hash: Some(hash),
            github_id: None,
        };
        let created = self.store.create_user(&new).await.map_err(Error::from);
        let user = self.audited(caller, record, created).await?;
        tracing::info!(user.login = %user.login, role = role.as_str(), "user created");
        Ok(CreatedUser {
            user,
            generated_password: generated,
        })
    }

    /// Every user, by login (instance admins).
    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<User>> {
        crate::access::authorize(self.store.as_ref(), caller, Action::UserRead, None).await?;
        Ok(self.store.list_users().await?)
    }

    /// Changes a user's role or password (instance admins); the last admin keeps the role.
    pub async fn update_user(
        &self,
        caller: &Caller,
        id: UserId,
        input: UpdateUser,
    ) -> Result<User> {
        crate::access::authorize(self.store.as_ref(), caller, Action::UserUpdate, None).await?;
        let user = self.store.get_user(id).await?;
        let role = parse_role(input.role.as_deref())?;
        if let Some(password) = &input.password {
            check_password(password)?;
        }
        let mut changes = Vec::new();
        let record = Record::of(Action::UserUpdate).target(user.login.clone());
        let updated = async {
            if let Some(role) = role {
                if user.role == InstanceRole::Admin && role != InstanceRole::Admin {
                    self.keep_an_admin(&user).await?;
                }
                self.store.set_user_role(id, role).await?;
                changes.push(format!("role {}", role.as_str()));
            }
            if let Some(password) = input.password {
                let hash = hash_off_thread(password).await?;
                self.store.set_password(id, &hash).await?;
                self.store.delete_sessions_of(id).await?;
                changes.push("password".to_owned());
            }
            Ok(self.store.get_user(id).await?)
        }
        .await;
        let record = record.details(changes.join(", "));
        self.audited(caller, record, updated).await
    }

    /// Removes a user with their sessions and tokens (instance admins); never the last admin.
    pub async fn delete_user(&self, caller: &Caller, id: UserId) -> Result<()> {
        crate::access::authorize(self.store.as_ref(), caller, Action::UserDelete, None).await?;
        let user = self.store.get_user(id).await?;
        let record = Record::of(Action::UserDelete).target(user.login.clone());
        let deleted = async {
            if user.role == InstanceRole::Admin {
                self.keep_an_admin(&user).await?;
            }
            Ok(self.store.delete_user(id).await?)
        }
        .await;
        self.audited(caller, record, deleted).await
    }

    /// `Conflict` when `user` is the only admin left.
    async fn keep_an_admin(&self, user: &User) -> Result<()> {
        let admins = self
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.role == InstanceRole::Admin && u.id != user.id)
            .count();
        if admins == 0 {
            return Err(Error::Conflict(format!(
                "{} is the only admin; make another user admin first",
                user.login
            )));
        }
        Ok(())
    }

    /// On an instance with no user yet: creates [`FIRST_ADMIN`] with a random password and
    /// answers it (the caller writes it where the operator finds it). `None` when users exist
    /// (or another replica created the first admin at the same moment).
    pub async fn create_first_admin(&self) -> Result<Option<String>> {
        if self.store.count_users().await? > 0 {
            return Ok(None);
        }
        let password = new_password();
        let new = NewUser {
            login: FIRST_ADMIN.to_owned(),
            role: InstanceRole::Admin,
            password_hash: Some(hash_off_thread(password.clone()).await?),
            github_id: None,
        };
        match self.store.create_user(&new).await {
            Ok(_) => {}
            Err(domain::StoreError::Conflict { .. }) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let record = Record::of(Action::UserCreate)
            .target(FIRST_ADMIN)
            .details("the first admin of a new instance");
        crate::audit::append(
            self.store.as_ref(),
            &Caller::System,
            None,
            record,
            domain::identity::Outcome::Success,
        )
        .await;
        Ok(Some(password))
    }

    /// The user called `login`, for the command line.
    pub async fn user_named(&self, caller: &Caller, login: &str) -> Result<User> {
        crate::access::authorize(self.store.as_ref(), caller, Action::UserRead, None).await?;
        self.store
            .get_user_by_login(login.trim())
            .await?
            .ok_or_else(|| Error::NotFound(format!("user `{}` not found", login.trim())))
    }
}

/// argon2 takes tens of milliseconds of CPU: off the async threads.
async fn hash_off_thread(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(Box::new(e)))?
}
