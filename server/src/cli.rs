//! The command line: `slipway [--config FILE] [serve | migrate | check-config | backup |
//! validate | schema]`.

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
    /// Check a `.platform.yaml` with the messages the server gives; exit 1 when it has problems.
    Validate {
        /// The file to check; `-` reads standard input.
        #[arg(default_value = ".platform.yaml", value_name = "FILE")]
        file: PathBuf,
    },
    /// Print a JSON Schema, for editor completion and checks.
    Schema {
        #[arg(value_enum)]
        of: SchemaKind,
    },
}

/// What `slipway schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaKind {
    /// `.platform.yaml` (pipeline and, later, preview sections).
    Pipeline,
}
