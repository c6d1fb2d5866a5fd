//! Settings → Members and teams (instance admins): everyone who can sign in, with how
//! (password, GitHub) and their instance role; Slipway's teams with their members and the
//! repositories they grant at read, write or admin. Every form works without JavaScript.

use std::collections::BTreeMap;

use domain::identity::{InstanceRole, Level, Team, User};
use leptos::form::ActionForm;
use leptos::prelude::*;

use crate::api::{
    CreateTeam, DeleteTeam, Members, SetMemberRole, SetTeamGrant, SetTeamMember, list_members,
};
use crate::components::{ErrorNotice, Loading, PageHeader};
use crate::error::AppError;

const CARD: &str =
    "rounded-xl border border-slate-200 bg-white p-6 dark:border-slate-800 dark:bg-slate-900";
const INPUT: &str = "block w-full rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950";
const SELECT: &str = "rounded-lg border border-slate-300 bg-white px-2 py-1 text-sm dark:border-slate-700 dark:bg-slate-950";
const BUTTON: &str =
    "rounded-lg bg-indigo-600 px-3 py-1 text-xs font-medium text-white hover:bg-indigo-500";
const QUIET: &str = "rounded px-2 py-0.5 text-xs text-rose-700 hover:bg-rose-50 dark:text-rose-300 dark:hover:bg-rose-950";

/// The page's actions, shared by its parts.
#[derive(Clone, Copy)]
struct Changes {
    role: ServerAction<SetMemberRole>,
    create: ServerAction<CreateTeam>,
    delete: ServerAction<DeleteTeam>,
    member: ServerAction<SetTeamMember>,
    grant: ServerAction<SetTeamGrant>,
}

impl Changes {
    fn version(&self) -> usize {
        self.role.version().get()
            + self.create.version().get()
            + self.delete.version().get()
            + self.member.version().get()
            + self.grant.version().get()
    }

    fn error(&self) -> Option<AppError> {
        let err = |v: Option<Result<(), AppError>>| v.and_then(Result::err);
        err(self.role.value().get().map(|r| r.map(|_| ())))
            .or_else(|| err(self.create.value().get().map(|r| r.map(|_| ()))))
            .or_else(|| err(self.delete.value().get()))
            .or_else(|| err(self.member.value().get().map(|r| r.map(|_| ()))))
            .or_else(|| err(self.grant.value().get().map(|r| r.map(|_| ()))))
    }
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let changes = Changes {
        role: ServerAction::new(),
        create: ServerAction::new(),
        delete: ServerAction::new(),
        member: ServerAction::new(),
        grant: ServerAction::new(),
    };
    let members = Resource::new(move || changes.version(), |_| list_members());
    view! {
        <PageHeader title="Members and teams" description="Who can sign in, their instance role, and the repositories Slipway's teams grant." />
        {move || changes.error().map(|error| view! { <div class="mb-4"><ErrorNotice error /></div> })}
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match members.await {
                    Ok(members) => view! { <MembersAndTeams members changes /> }.into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn MembersAndTeams(members: Members, changes: Changes) -> impl IntoView {
    let logins: BTreeMap<i64, String> = members
        .users
        .iter()
        .map(|u| (u.id.0, u.login.clone()))
        .collect();
    let names: BTreeMap<i64, String> = members.repositories.iter().cloned().collect();
    let repositories = members.repositories.clone();
    view! {
        <div class="grid gap-8 lg:grid-cols-2">
            <section class=CARD>
                <h2 class="text-base font-semibold">"Members"</h2>
                <ul class="mt-4 divide-y divide-slate-100 dark:divide-slate-800" data-testid="member-list">
                    {members.users.into_iter().map(|user| view! { <MemberRow user changes /> }).collect_view()}
                </ul>
                <p class="mt-4 text-xs text-slate-500 dark:text-slate-400">
                    "GitHub users appear after their first sign-in. Local accounts: slipway users create NAME."
                </p>
            </section>
            <section class="space-y-4">
                {members.teams.into_iter().map(|team| view! {
                    <TeamCard team logins=logins.clone() names=names.clone() repositories=repositories.clone() changes />
                }).collect_view()}
                <ActionForm action=changes.create attr:class=format!("{CARD} flex items-end gap-2")>
                    <label class="block flex-1 text-xs font-medium">"New team"
                        <input name="name" required placeholder="platform" class=INPUT data-testid="team-name" />
                    </label>
                    <button type="submit" class=BUTTON data-testid="team-create">"Create team"</button>
                </ActionForm>
            </section>
        </div>
    }
    .into_any()
}

fn how_they_sign_in(user: &User) -> &'static str {
    match (user.github_id.is_some(), user.has_password) {
        (true, true) => "GitHub, password",
        (true, false) => "GitHub",
        (false, true) => "password",
        (false, false) => "no sign-in method",
    }
}

#[component]
fn MemberRow(user: User, changes: Changes) -> impl IntoView {
    let last = user.last_login_at_ms.map_or_else(
        || "never signed in".to_owned(),
        |at| format!("last in {}", domain::time::utc(at)),
    );
    let role = user.role;
    view! {
        <li class="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
            <span class="min-w-0">
                <span class="block font-medium">{user.login.clone()}</span>
                <span class="block text-xs text-slate-500">{format!("{} · {last}", how_they_sign_in(&user))}</span>
            </span>
            <ActionForm action=changes.role attr:class="flex items-center gap-2">
                <input type="hidden" name="user" value=user.id.0 />
                <select name="role" class=SELECT aria-label=format!("role of {}", user.login)>
                    {InstanceRole::ALL.into_iter().map(|r| view! {
                        <option value=r.as_str() selected=r == role>{r.as_str()}</option>
                    }).collect_view()}
                </select>
                <button type="submit" class=BUTTON>"Save"</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn TeamCard(
    team: Team,
    logins: BTreeMap<i64, String>,
    names: BTreeMap<i64, String>,
    repositories: Vec<(i64, String)>,
    changes: Changes,
) -> impl IntoView {
    let id = team.id;
    let login_of = move |user: i64| {
        logins
            .get(&user)
            .cloned()
            .unwrap_or_else(|| format!("user {user}"))
    };
    view! {
        <div class=CARD data-testid="team">
            <div class="flex items-center justify-between">
                <h3 class="text-sm font-semibold">{team.name.clone()}</h3>
                <button type="button" class=QUIET on:click=move |_| { changes.delete.dispatch(DeleteTeam { id }); }>"Delete team"</button>
            </div>
            <p class="mt-3 text-xs font-medium text-slate-500">"Members"</p>
            <ul class="mt-1 space-y-1 text-sm" data-testid="team-members">
                {team.members.iter().map(|member| {
                    let login = login_of(member.0);
                    let remove = login.clone();
                    view! {
                        <li class="flex justify-between">
                            <span>{login}</span>
                            <button type="button" class=QUIET on:click=move |_| {
                                changes.member.dispatch(SetTeamMember { team: id, login: remove.clone(), add: false });
                            }>"Remove"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <ActionForm action=changes.member attr:class="mt-2 flex gap-2">
                <input type="hidden" name="team" value=id />
                <input type="hidden" name="add" value="true" />
                <input name="login" required placeholder="login" class=INPUT aria-label="login to add" />
                <button type="submit" class=BUTTON>"Add"</button>
            </ActionForm>
            <p class="mt-4 text-xs font-medium text-slate-500">"Repositories"</p>
            <ul class="mt-1 space-y-1 text-sm" data-testid="team-grants">
                {team.repositories.iter().map(|grant| {
                    let repository = grant.repository_id.0;
                    let name = names.get(&repository).cloned().unwrap_or_else(|| format!("repository {repository}"));
                    view! {
                        <li class="flex justify-between">
                            <span>{name} " · " <span class="text-xs text-slate-500">{grant.level.as_str()}</span></span>
                            <button type="button" class=QUIET on:click=move |_| {
                                changes.grant.dispatch(SetTeamGrant { team: id, repository, level: "none".into() });
                            }>"Take back"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <ActionForm action=changes.grant attr:class="mt-2 flex gap-2">
                <input type="hidden" name="team" value=id />
                <select name="repository" class=INPUT aria-label="repository to grant">
                    {repositories.into_iter().map(|(rid, name)| view! { <option value=rid>{name}</option> }).collect_view()}
                </select>
                <select name="level" class=INPUT aria-label="level">
                    {Level::ALL.into_iter().map(|l| view! { <option value=l.as_str()>{l.as_str()}</option> }).collect_view()}
                </select>
                <button type="submit" class=BUTTON>"Grant"</button>
            </ActionForm>
        </div>
    }
}
