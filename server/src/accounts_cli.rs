//! `slipway users …` and `slipway tokens …`: accounts from the command line, against the
//! configured database (also while Slipway runs), as Slipway itself (whoever can run this on
//! the host can read the database anyway). Secrets go to standard output alone, so a script
//! can capture them; everything else goes to standard error.

use std::io::Read;

use domain::identity::InstanceRole;
use services::Caller;
use services::tokens::CreateToken;
use services::users::CreateUser;

use crate::cli::{TokensCommand, UsersCommand};
use crate::config::Config;

async fn accounts(config: &Config) -> anyhow::Result<services::Accounts> {
    let store = crate::store::open(&config.database).await?;
    Ok(services::Accounts::new(store))
}

/// Runs `slipway users …`.
pub async fn users(config: &Config, command: UsersCommand) -> anyhow::Result<()> {
    let accounts = accounts(config).await?;
    match command {
        UsersCommand::Create {
            name,
            admin,
            operator,
            password_stdin,
        } => {
            let role = if admin {
                InstanceRole::Admin
            } else if operator {
                InstanceRole::Operator
            } else {
                InstanceRole::Member
            };
            let password = if password_stdin {
                let mut text = String::new();
                std::io::stdin().read_to_string(&mut text)?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let input = CreateUser {
                login: name,
                role: Some(role.as_str().to_owned()),
                password,
            };
            let created = accounts.create_user(&Caller::System, input).await?;
            eprintln!(
                "created user {} ({}, id {})",
                created.user.login,
                created.user.role.as_str(),
                created.user.id
            );
            if let Some(password) = created.generated_password {
                println!("{password}");
            }
        }
        UsersCommand::List => {
            println!("{:<6} {:<24} {:<9} LAST SIGN-IN", "ID", "LOGIN", "ROLE");
            for user in accounts.list_users(&Caller::System).await? {
                let last = user
                    .last_login_at_ms
                    .map_or_else(|| "never".to_owned(), format_time);
                println!(
                    "{:<6} {:<24} {:<9} {last}",
                    user.id,
                    user.login,
                    user.role.as_str()
                );
            }
        }
    }
    Ok(())
}

/// Runs `slipway tokens …`.
pub async fn tokens(config: &Config, command: TokensCommand) -> anyhow::Result<()> {
    let accounts = accounts(config).await?;
    match command {
        TokensCommand::Create {
            user,
            scope,
            repositories,
            expires,
            name,
        } => {
            let expires_in_days = expires.as_deref().map(days).transpose()?;
            let input = CreateToken {
                name: name.unwrap_or_else(|| "command line".to_owned()),
                user: Some(user),
                scope: Some(scope),
                repositories,
                expires_in_days,
            };
            let created = accounts.create_token(&Caller::System, input).await?;
            eprintln!(
                "token {} ({}): scope {}, expires {}",
                created.token.id,
                created.token.name,
                created.token.scope.as_str(),
                format_time(created.token.expires_at_ms)
            );
            println!("{}", created.secret);
        }
        TokensCommand::Revoke { id } => {
            let token = accounts.revoke_token(&Caller::System, id).await?;
            eprintln!("revoked token {} ({})", token.id, token.name);
        }
    }
    Ok(())
}

/// `30d`, `12w`, `1y`… as whole days (rounded up).
fn days(text: &str) -> anyhow::Result<u32> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| anyhow::anyhow!("--expires `{text}` is not a duration such as 30d: {e}"))?;
    let days = duration.as_secs().div_ceil(24 * 60 * 60);
    u32::try_from(days).map_err(|_| anyhow::anyhow!("--expires `{text}` is too long"))
}

fn format_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|_| ms.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn expiries_read_as_whole_days() {
        assert_eq!(super::days("30d").expect("days"), 30);
        assert_eq!(super::days("36h").expect("days"), 2);
        assert!(super::days("soon").is_err());
    }
}
