//! `slipway`: parses the command line and configuration, then serves, migrates, asks a running
//! Slipway whether it is healthy, or prints the configuration; `validate` and `schema` need no
//! configuration.
//! Exit codes: 0 done, 1 runtime failure (or, for `validate`, problems found), 2 invalid
//! configuration or usage.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};
use server::config::Config;
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve { cluster: None });
    match &command {
        Command::Validate {
            file,
            transform: false,
        } => return server::platform_file::validate(file),
        Command::Validate {
            file,
            transform: true,
        } => return server::platform_file::validate_transform(file),
        Command::Schema { of } => return server::platform_file::print_schema(*of),
        _ => {}
    }
    let overrides: Vec<(&str, &str)> = match &command {
        Command::Serve {
            cluster: Some(mode),
        } => vec![("SLIPWAY_CLUSTER", mode.as_str())],
        _ => Vec::new(),
    };
    let (config, sources) = match Config::load_with_sources(cli.config.as_deref(), &overrides) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprintln!("slipway: invalid configuration\n{problems}");
            return ExitCode::from(2);
        }
    };
    if command == Command::CheckConfig {
        println!("{}", config.describe(&sources));
        return ExitCode::SUCCESS;
    }
    server::telemetry::init(config.log_format, &config.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("slipway: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match command {
            Command::Migrate => server::store::open(&config.database)
                .await
                .map(|_| {
                    tracing::info!("database is up to date");
                })
                .map_err(anyhow::Error::from),
            Command::Backup { folder } => backup(&config, &folder).await,
            Command::Users { command } => server::accounts_cli::users(&config, command).await,
            Command::Tokens { command } => server::accounts_cli::tokens(&config, command).await,
            Command::Healthcheck { ready } => {
                let said = server::healthcheck::check(config.listen, ready).await?;
                println!("{said}");
                Ok(())
            }
            _ => serve(config).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("slipway: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn backup(config: &Config, folder: &std::path::Path) -> anyhow::Result<()> {
    let report = server::backup::backup(config, folder).await?;
    println!(
        "backed up to {}: database ({} bytes), keys: {}, {} objects\nrestore: SLIPWAY_DATA_DIR={} slipway serve",
        folder.display(),
        report.database_bytes,
        if report.keys.is_empty() {
            "none".to_owned()
        } else {
            report.keys.join(", ")
        },
        report.objects,
        folder.display()
    );
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    server::serve::cancel_on_signal(shutdown.clone());
    let running = server::serve::start(config, shutdown).await?;
    running.wait().await?;
    Ok(())
}
