//! `impl_identity_store!`: the `IdentityStore` implementation for either sqlx pool, over the
//! queries and rows of `identity_sql`.

/// Implements `domain::identity::IdentityStore` for a struct with `pool` (writes) and
/// `readers` (reads) fields.
macro_rules! impl_identity_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl domain::identity::IdentityStore for $store {
            async fn create_user(
                &self,
                user: &domain::identity::NewUser,
            ) -> domain::store::Result<domain::identity::User> {
                use $crate::store::identity_sql as sql;
                let row: sql::UserRow = sqlx::query_as(&sql::insert_user())
                    .bind(&user.login)
                    .bind(user.role.as_str())
                    .bind(&user.password_hash)
                    .bind(user.github_id)
                    .bind(domain::time::now_ms())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", &user.login))?;
                row.try_into()
            }

            async fn get_user(
                &self,
                id: domain::identity::UserId,
            ) -> domain::store::Result<domain::identity::User> {
                use $crate::store::identity_sql as sql;
                let row: sql::UserRow = sqlx::query_as(&sql::get_user())
                    .bind(id.0)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                row.try_into()
            }

            async fn get_user_by_login(
                &self,
                login: &str,
            ) -> domain::store::Result<Option<domain::identity::User>> {
                use $crate::store::identity_sql as sql;
                let row: Option<sql::UserRow> = sqlx::query_as(&sql::get_user_by_login())
                    .bind(login)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", login))?;
                row.map(TryInto::try_into).transpose()
            }

            async fn get_user_by_github_id(
                &self,
                github_id: i64,
            ) -> domain::store::Result<Option<domain::identity::User>> {
                use $crate::store::identity_sql as sql;
                let row: Option<sql::UserRow> = sqlx::query_as(&sql::get_user_by_github_id())
                    .bind(github_id)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", github_id))?;
                row.map(TryInto::try_into).transpose()
            }

            async fn set_user_login(
                &self,
                id: domain::identity::UserId,
                login: &str,
            ) -> domain::store::Result<domain::identity::User> {
                use $crate::store::identity_sql as sql;
                let row: sql::UserRow = sqlx::query_as(&sql::set_login())
                    .bind(id.0)
                    .bind(login)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                row.try_into()
            }

            async fn password_of(
                &self,
                login: &str,
            ) -> domain::store::Result<Option<(domain::identity::User, Option<String>)>> {
                use $crate::store::identity_sql as sql;
                let row: Option<sql::UserWithPassword> = sqlx::query_as(&sql::password_of())
                    .bind(login)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", login))?;
                row.map(|row| Ok((row.user.try_into()?, row.password_hash)))
                    .transpose()
            }

            async fn list_users(&self) -> domain::store::Result<Vec<domain::identity::User>> {
                use $crate::store::identity_sql as sql;
                let rows: Vec<sql::UserRow> = sqlx::query_as(&sql::list_users())
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", "*"))?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn count_users(&self) -> domain::store::Result<u64> {
                let (count,): (i64,) = sqlx::query_as($crate::store::identity_sql::COUNT_USERS)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", "*"))?;
                Ok(u64::try_from(count).unwrap_or(0))
            }

            async fn set_user_role(
                &self,
                id: domain::identity::UserId,
                role: domain::identity::InstanceRole,
            ) -> domain::store::Result<domain::identity::User> {
                use $crate::store::identity_sql as sql;
                let row: sql::UserRow = sqlx::query_as(&sql::set_role())
                    .bind(id.0)
                    .bind(role.as_str())
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                row.try_into()
            }

            async fn set_password(
                &self,
                id: domain::identity::UserId,
                password_hash: &str,
            ) -> domain::store::Result<()> {
                let done = sqlx::query($crate::store::identity_sql::SET_PASSWORD)
                    .bind(id.0)
                    .bind(password_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                $crate::store::identity_sql::one_row(done.rows_affected(), "user", id)
            }

            async fn record_login(
                &self,
                id: domain::identity::UserId,
                at_ms: i64,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::RECORD_LOGIN)
                    .bind(id.0)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                Ok(())
            }

            async fn delete_user(&self, id: domain::identity::UserId) -> domain::store::Result<()> {
                let done = sqlx::query($crate::store::identity_sql::DELETE_USER)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "user", id))?;
                $crate::store::identity_sql::one_row(done.rows_affected(), "user", id)
            }

            async fn create_session(
                &self,
                session: &domain::identity::NewSession,
                at_ms: i64,
            ) -> domain::store::Result<domain::identity::Session> {
                use $crate::store::identity_sql as sql;
                let row: sql::SessionRow = sqlx::query_as(&sql::insert_session())
                    .bind(&session.token_hash)
                    .bind(session.user_id.0)
                    .bind(at_ms)
                    .bind(session.expires_at_ms)
                    .bind(&session.user_agent)
                    .bind(&session.address)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", "new"))?;
                Ok(row.into())
            }

            async fn session_by_hash(
                &self,
                token_hash: &str,
                at_ms: i64,
            ) -> domain::store::Result<Option<(domain::identity::Session, domain::identity::User)>>
            {
                use $crate::store::identity_sql as sql;
                let row: Option<sql::SessionRow> = sqlx::query_as(&sql::session_by_hash())
                    .bind(token_hash)
                    .bind(at_ms)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", "*"))?;
                let Some(row) = row else { return Ok(None) };
                let session = domain::identity::Session::from(row);
                let user = domain::identity::IdentityStore::get_user(self, session.user_id).await?;
                Ok(Some((session, user)))
            }

            async fn touch_session(&self, id: i64, at_ms: i64) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::TOUCH_SESSION)
                    .bind(id)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", id))?;
                Ok(())
            }

            async fn list_sessions(
                &self,
                user: domain::identity::UserId,
                at_ms: i64,
            ) -> domain::store::Result<Vec<domain::identity::Session>> {
                use $crate::store::identity_sql as sql;
                let rows: Vec<sql::SessionRow> = sqlx::query_as(&sql::list_sessions())
                    .bind(user.0)
                    .bind(at_ms)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", "*"))?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn delete_session(&self, token_hash: &str) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::DELETE_SESSION)
                    .bind(token_hash)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", "*"))?;
                Ok(())
            }

            async fn delete_sessions_of(
                &self,
                user: domain::identity::UserId,
            ) -> domain::store::Result<u64> {
                let done = sqlx::query($crate::store::identity_sql::DELETE_SESSIONS_OF)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "session", "*"))?;
                Ok(done.rows_affected())
            }

            async fn create_token(
                &self,
                token: &domain::identity::NewApiToken,
                at_ms: i64,
            ) -> domain::store::Result<domain::identity::ApiToken> {
                use $crate::store::identity_sql as sql;
                let row: sql::TokenRow = sqlx::query_as(&sql::insert_token())
                    .bind(&token.token_hash)
                    .bind(token.user_id.0)
                    .bind(&token.name)
                    .bind(token.scope.as_str())
                    .bind(sql::repositories_text(&token.repositories))
                    .bind(at_ms)
                    .bind(token.expires_at_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "api token", &token.name)
                    })?;
                row.try_into()
            }

            async fn token_by_hash(
                &self,
                token_hash: &str,
            ) -> domain::store::Result<Option<(domain::identity::ApiToken, domain::identity::User)>>
            {
                use $crate::store::identity_sql as sql;
                let row: Option<sql::TokenRow> = sqlx::query_as(&sql::token_by_hash())
                    .bind(token_hash)
                    .fetch_optional(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "api token", "*"))?;
                let Some(row) = row else { return Ok(None) };
                let token = domain::identity::ApiToken::try_from(row)?;
                let user = domain::identity::IdentityStore::get_user(self, token.user_id).await?;
                Ok(Some((token, user)))
            }

            async fn get_token(
                &self,
                id: i64,
            ) -> domain::store::Result<domain::identity::ApiToken> {
                use $crate::store::identity_sql as sql;
                let row: sql::TokenRow = sqlx::query_as(&sql::get_token())
                    .bind(id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "api token", id))?;
                row.try_into()
            }

            async fn touch_token(&self, id: i64, at_ms: i64) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::TOUCH_TOKEN)
                    .bind(id)
                    .bind(at_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "api token", id))?;
                Ok(())
            }

            async fn list_tokens(
                &self,
                user: Option<domain::identity::UserId>,
            ) -> domain::store::Result<Vec<domain::identity::ApiToken>> {
                use $crate::store::identity_sql as sql;
                let rows: Vec<sql::TokenRow> = sqlx::query_as(&sql::list_tokens())
                    .bind(user.map(|u| u.0))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "api token", "*"))?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn revoke_token(
                &self,
                id: i64,
                at_ms: i64,
            ) -> domain::store::Result<domain::identity::ApiToken> {
                use $crate::store::identity_sql as sql;
                let row: sql::TokenRow = sqlx::query_as(&sql::revoke_token())
                    .bind(id)
                    .bind(at_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "api token", id))?;
                row.try_into()
            }

            async fn create_team(
                &self,
                name: &str,
                at_ms: i64,
            ) -> domain::store::Result<domain::identity::Team> {
                use $crate::store::identity_sql as sql;
                let row: sql::TeamRow = sqlx::query_as(sql::INSERT_TEAM)
                    .bind(name)
                    .bind(at_ms)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "team", name))?;
                Ok(sql::teams(vec![row], &[], &[])?.remove(0))
            }

            async fn list_teams(&self) -> domain::store::Result<Vec<domain::identity::Team>> {
                use $crate::store::identity_sql as sql;
                use $crate::store::sql_store::map_error;
                let teams: Vec<sql::TeamRow> = sqlx::query_as(sql::LIST_TEAMS)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", "*"))?;
                let members: Vec<sql::MemberRow> = sqlx::query_as(sql::TEAM_MEMBERS)
                    .bind(None::<i64>)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", "*"))?;
                let grants: Vec<sql::GrantRow> = sqlx::query_as(sql::TEAM_GRANTS)
                    .bind(None::<i64>)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", "*"))?;
                sql::teams(teams, &members, &grants)
            }

            async fn get_team(&self, id: i64) -> domain::store::Result<domain::identity::Team> {
                use $crate::store::identity_sql as sql;
                use $crate::store::sql_store::map_error;
                let team: sql::TeamRow = sqlx::query_as(sql::GET_TEAM)
                    .bind(id)
                    .fetch_one(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", id))?;
                let members: Vec<sql::MemberRow> = sqlx::query_as(sql::TEAM_MEMBERS)
                    .bind(Some(id))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", id))?;
                let grants: Vec<sql::GrantRow> = sqlx::query_as(sql::TEAM_GRANTS)
                    .bind(Some(id))
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| map_error(e, "team", id))?;
                Ok(sql::teams(vec![team], &members, &grants)?.remove(0))
            }

            async fn delete_team(&self, id: i64) -> domain::store::Result<()> {
                let done = sqlx::query($crate::store::identity_sql::DELETE_TEAM)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "team", id))?;
                $crate::store::identity_sql::one_row(done.rows_affected(), "team", id)
            }

            async fn add_team_member(
                &self,
                team: i64,
                user: domain::identity::UserId,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::ADD_MEMBER)
                    .bind(team)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "team member", user))?;
                Ok(())
            }

            async fn remove_team_member(
                &self,
                team: i64,
                user: domain::identity::UserId,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::REMOVE_MEMBER)
                    .bind(team)
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "team member", user))?;
                Ok(())
            }

            async fn grant_team(
                &self,
                team: i64,
                grant: domain::identity::TeamGrant,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::GRANT)
                    .bind(team)
                    .bind(grant.repository_id.0)
                    .bind(grant.level.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "team grant", grant.repository_id)
                    })?;
                Ok(())
            }

            async fn revoke_team(
                &self,
                team: i64,
                repository: domain::RepositoryId,
            ) -> domain::store::Result<()> {
                sqlx::query($crate::store::identity_sql::REVOKE)
                    .bind(team)
                    .bind(repository.0)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "team grant", repository)
                    })?;
                Ok(())
            }

            async fn grants_of(
                &self,
                user: domain::identity::UserId,
            ) -> domain::store::Result<Vec<domain::identity::TeamGrant>> {
                use $crate::store::identity_sql as sql;
                let rows: Vec<sql::GrantRow> = sqlx::query_as(sql::GRANTS_OF)
                    .bind(user.0)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "team grant", user))?;
                sql::highest_grants(&rows)
            }

            async fn append_audit(
                &self,
                entry: &domain::identity::NewAuditEntry,
            ) -> domain::store::Result<()> {
                use domain::identity::{ActorKind, Outcome};
                sqlx::query($crate::store::identity_sql::INSERT_AUDIT)
                    .bind(entry.at_ms)
                    .bind(entry.actor_kind.unwrap_or(ActorKind::System).as_str())
                    .bind(entry.actor_id.map(|u| u.0))
                    .bind(&entry.actor_login)
                    .bind(entry.token_id)
                    .bind(&entry.action)
                    .bind(&entry.target)
                    .bind(entry.repository_id.map(|r| r.0))
                    .bind(&entry.repository)
                    .bind(entry.outcome.unwrap_or(Outcome::Success).as_str())
                    .bind(&entry.source)
                    .bind(&entry.user_agent)
                    .bind(&entry.request_id)
                    .bind(&entry.details)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        $crate::store::sql_store::map_error(e, "audit entry", &entry.action)
                    })?;
                Ok(())
            }

            async fn list_audit(
                &self,
                filter: &domain::identity::AuditFilter,
            ) -> domain::store::Result<Vec<domain::identity::AuditEntry>> {
                use $crate::store::identity_sql as sql;
                let limit = i64::from(filter.limit.clamp(1, sql::MAX_AUDIT_PAGE));
                let rows: Vec<sql::AuditRow> = sqlx::query_as(&sql::list_audit())
                    .bind(&filter.actor)
                    .bind(&filter.action)
                    .bind(filter.repository_id.map(|r| r.0))
                    .bind(domain::identity::visible_list(filter.visible.as_deref()))
                    .bind(filter.since_ms)
                    .bind(filter.until_ms)
                    .bind(filter.before)
                    .bind(limit)
                    .fetch_all(&self.readers)
                    .await
                    .map_err(|e| $crate::store::sql_store::map_error(e, "audit entry", "*"))?;
                rows.into_iter().map(TryInto::try_into).collect()
            }
        }
    };
}

pub(super) use impl_identity_store;
