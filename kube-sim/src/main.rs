//! `kube-sim --listen 127.0.0.1:PORT --kubeconfig-out FILE`: a simulated Kubernetes API server
//! that kubectl and kube-rs can talk to. Stops on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kube_sim::{KnobSettings, KubeSim, Options};

/// A simulated Kubernetes API server for tests, benchmarks and demos.
#[derive(Debug, Parser)]
#[command(name = "kube-sim", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write a kubeconfig pointing at this server.
    #[arg(long, value_name = "FILE")]
    kubeconfig_out: Option<PathBuf>,
    /// Latency added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Delay before a pod's containers start, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pod_start_delay_ms: u64,
    /// Delay before a Deployment's pods count as available, in milliseconds.
    #[arg(long, default_value_t = 0)]
    deployment_ready_delay_ms: u64,
    /// How long namespaces stay Terminating after their contents are gone, in milliseconds.
    #[arg(long, default_value_t = 0)]
    namespace_deletion_delay_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("kube-sim: cannot listen on {}: {error}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    let knobs = KnobSettings {
        latency_ms: cli.latency_ms,
        pod_start_delay_ms: cli.pod_start_delay_ms,
        deployment_ready_delay_ms: cli.deployment_ready_delay_ms,
        namespace_deletion_delay_ms: cli.namespace_deletion_delay_ms,
        ..KnobSettings::default()
    };
    let sim = match KubeSim::start(
        listener,
        Options {
            knobs,
            ..Options::default()
        },
    )
    .await
    {
        Ok(sim) => sim,
        Err(error) => {
            eprintln!("kube-sim: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &cli.kubeconfig_out
        && let Err(error) = sim.write_kubeconfig(path)
    {
        eprintln!(
            "kube-sim: cannot write the kubeconfig to {}: {error}",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    println!("kube-sim is serving the Kubernetes API at {}", sim.url());
    let _ = tokio::signal::ctrl_c().await;
    sim.stop().await;
    ExitCode::SUCCESS
}
