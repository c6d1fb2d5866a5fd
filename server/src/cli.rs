//! The command line: `slipway [--config FILE] [serve | migrate | check-config | backup |
//! users | tokens | healthcheck | validate | schema]`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Preview environments and pipelines for every pull request.
#[derive(Debug, Parser)]
#[command(name = "slipway", version, about)]
pub struct Cli {
    /// TOML file with settings (keys as in README's table, e.g. `listen = "0.0.0.0:3000"`).
    /// Environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Serve the dashboard, API and webhooks (the default).
    Serve {
        /// The default cluster, as SLIPWAY_CLUSTER: `sim` starts an embedded simulated
        /// cluster so previews and Kubernetes pipelines can be tried without one.
        #[arg(long, value_name = "MODE")]
        cluster: Option<String>,
    },
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Print the effective configuration (secrets redacted) and exit.
    CheckConfig,
    /// Copy the embedded database (consistently, while Slipway runs), its keys and filesystem
    /// objects into a new folder; serve from it with SLIPWAY_DATA_DIR=FOLDER.
    Backup {
        /// A folder that does not exist yet, or an empty one.
        #[arg(value_name = "FOLDER")]
        folder: PathBuf,
    },
    /// Local users: `create NAME [--admin|--operator] [--password-stdin]`, `list`.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Personal API tokens: `create --user NAME …` (prints the token alone), `revoke ID`.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Ask the Slipway listening on SLIPWAY_LISTEN whether it is healthy (`/healthz`; with
    /// `--ready`, `/readyz`); exit 0 when it is, 1 with the reason when not. For container
    /// health checks: the image needs no curl.
    Healthcheck {
        /// Ask whether it is ready (every dependency answers) instead of alive.
        #[arg(long)]
        ready: bool,
    },
    /// Check a `.platform.yaml` (or, with `--transform`, a transform spec) with the messages
    /// the server gives; exit 1 when it has problems.
    Validate {
        /// The file to check; `-` reads standard input.
        #[arg(default_value = ".platform.yaml", value_name = "FILE")]
        file: PathBuf,
        /// The file is a transform spec (`slipway schema transform`).
        #[arg(long)]
        transform: bool,
    },
    /// Print a JSON Schema, for editor completion and checks.
    Schema {
        #[arg(value_enum)]
        of: SchemaKind,
    },
}

/// `slipway users …`.
#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum UsersCommand {
    /// Add a local user; prints the generated password unless one comes on standard input.
    Create {
        #[arg(value_name = "NAME")]
        name: String,
        /// Instance admin: everything, users and teams included.
        #[arg(long, conflicts_with = "operator")]
        admin: bool,
        /// Instance operator: reads everything, cleans up any preview.
        #[arg(long)]
        operator: bool,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every user, with their role and last sign-in.
    List,
}

/// `slipway tokens …`.
#[derive(Debug, Clone, Subcommand, PartialEq, Eq)]
pub enum TokensCommand {
    /// Make a personal API token for a user; prints the token alone on standard output.
    Create {
        /// Whose token (a login).
        #[arg(long, value_name = "NAME")]
        user: String,
        /// The most it may do: read, write or admin.
        #[arg(long, default_value = "read", value_name = "SCOPE")]
        scope: String,
        /// A repository (`owner/name`) it may reach; repeat for more; all when absent.
        #[arg(long = "repository", value_name = "OWNER/REPO")]
        repositories: Vec<String>,
        /// How long it lasts, e.g. 30d (default 90d, at most a year).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// What it is for.
        #[arg(long, value_name = "TEXT")]
        name: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke {
        #[arg(value_name = "ID")]
        id: i64,
    },
}

/// What `slipway schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// `.platform.yaml` (pipeline and, later, preview sections).
    Pipeline,
    /// A transform spec (`POST /api/runs`).
    Transform,
    /// An `ExecuteTransform` task on the Redis stream `preview.tasks`.
    Task,
}
