//! The faults: kill/restart cycles of the replicas (SIGKILL at a random moment, started again
//! after a random pause), and between them, in turn, a Redis restart, an S3 restart, a
//! PostgreSQL crash, kube-sim answering 429 and 500, kube-sim cutting watches and log streams,
//! and GitHub answering 502.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use crate::fake_github::Fake;
use crate::world::{KubeSim, Postgres, Redis, Replica, S3};

/// What the cycles did, for the table.
#[derive(Debug, Default)]
pub struct Done {
    pub kills: u32,
    pub redis_restarts: u32,
    pub s3_restarts: u32,
    pub postgres_crashes: u32,
    pub kube_failures: u32,
    pub kube_cuts: u32,
    pub github_502s: u32,
    /// The longest a killed replica took to serve again.
    pub slowest_restart: Duration,
}

pub struct Faults<'a> {
    pub replicas: &'a mut [Replica],
    pub postgres: &'a Postgres,
    pub redis: &'a mut Redis,
    pub s3: &'a mut S3,
    pub kube: &'a KubeSim,
    pub github: &'a Arc<Fake>,
    pub http: reqwest::Client,
}

fn pause(from_ms: u64, to_ms: u64) -> Duration {
    Duration::from_millis(rand::rng().random_range(from_ms..=to_ms))
}

impl Faults<'_> {
    /// `cycles` kill/restart cycles, with a dependency fault beside most of them.
    pub async fn run(&mut self, cycles: u32) -> anyhow::Result<Done> {
        let mut done = Done::default();
        for cycle in 0..cycles {
            tokio::time::sleep(pause(800, 3_000)).await;
            let which = rand::rng().random_range(0..self.replicas.len());
            self.replicas[which].kill().await?;
            done.kills += 1;
            // Beside the kill, one dependency fault in turn.
            match cycle % 10 {
                1 | 6 => {
                    self.kube
                        .fail_next(&self.http, &[429, 500, 429, 500, 500, 429, 503])
                        .await?;
                    done.kube_failures += 7;
                }
                2 => {
                    self.redis.restart().await?;
                    done.redis_restarts += 1;
                }
                4 => {
                    self.s3.restart().await?;
                    done.s3_restarts += 1;
                }
                5 => {
                    self.kube
                        .knobs(
                            &self.http,
                            serde_json::json!({
                                "drop_watch_after_events": 3,
                                "drop_logs_after_lines": 40,
                                "drop_log_streams": 3,
                            }),
                        )
                        .await?;
                    done.kube_cuts += 1;
                }
                7 => self.kube.knobs(&self.http, serde_json::json!({})).await?,
                8 => {
                    self.github
                        .bad_gateway_next
                        .store(6, std::sync::atomic::Ordering::SeqCst);
                    done.github_502s += 6;
                }
                9 => {
                    self.postgres.crash_and_restart(pause(300, 1_500)).await?;
                    done.postgres_crashes += 1;
                }
                _ => {}
            }
            tokio::time::sleep(pause(0, 1_200)).await;
            let took = self.replicas[which].start().await?;
            done.slowest_restart = done.slowest_restart.max(took);
            if (cycle + 1) % 10 == 0 {
                println!("  {} of {cycles} kill/restart cycles", cycle + 1);
            }
        }
        self.kube.knobs(&self.http, serde_json::json!({})).await?;
        Ok(done)
    }
}
