//! A TCP fault proxy for the tests: it stands between Slipway and one dependency (PostgreSQL,
//! Redis, the S3 server, …) and forwards bytes both ways until a test tells it to misbehave as
//! networks and restarts do: reset every open connection, refuse new ones, black-hole them
//! (accepted, never answered), or delay every chunk. It binds its own loopback port and
//! reports it, so no port is picked free and released first.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards both ways.
    Pass,
    /// Resets each new connection at once, as a stopped service's port does.
    Refuse,
    /// Accepts connections and forwards nothing either way, as a lost route does.
    BlackHole,
}

#[derive(Debug, Clone, Copy)]
struct Faults {
    mode: Mode,
    /// Connections opened before the latest cut end with a reset.
    generation: u64,
    /// Added before each forwarded chunk.
    delay: Duration,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    address: SocketAddr,
    faults: watch::Sender<Faults>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a loopback port of its own to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let (faults, _) = watch::channel(Faults {
            mode: Mode::Pass,
            generation: 0,
            delay: Duration::ZERO,
        });
        let watching = faults.clone();
        let target = target.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(handle(client, target.clone(), watching.subscribe()));
            }
        });
        Self {
            address,
            faults,
            task,
        }
    }

    /// `127.0.0.1:PORT`, to put in the dependency's URL instead of its own address.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Resets every open connection; new ones are forwarded again.
    pub fn cut(&self) {
        self.faults.send_modify(|f| f.generation += 1);
    }

    /// Resets every open connection and every new one until [`FaultProxy::heal`].
    pub fn refuse(&self) {
        self.faults.send_modify(|f| {
            f.generation += 1;
            f.mode = Mode::Refuse;
        });
    }

    /// Stops forwarding on open and new connections, leaving them open, until healed.
    pub fn black_hole(&self) {
        self.faults.send_modify(|f| f.mode = Mode::BlackHole);
    }

    /// Adds `delay` before every chunk forwarded from now on.
    pub fn delay(&self, delay: Duration) {
        self.faults.send_modify(|f| f.delay = delay);
    }

    /// Forwards everything again, without delay. Black-holed connections are reset: what was
    /// sent into the hole is gone, as after a real outage.
    pub fn heal(&self) {
        self.faults.send_modify(|f| {
            if f.mode == Mode::BlackHole {
                f.generation += 1;
            }
            f.mode = Mode::Pass;
            f.delay = Duration::ZERO;
        });
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ends `stream` with a TCP reset rather than an orderly close.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

async fn handle(mut client: TcpStream, target: String, mut faults: watch::Receiver<Faults>) {
    let at_start = *faults.borrow_and_update();
    let generation = at_start.generation;
    match at_start.mode {
        Mode::Refuse => return reset(client),
        Mode::BlackHole => {
            // Held until the hole closes, then reset (the heal counts as a cut).
            let _ = faults.wait_for(|f| f.generation != generation).await;
            return reset(client);
        }
        Mode::Pass => {}
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        return reset(client);
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (mut from_client, mut from_upstream) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    loop {
        let now = *faults.borrow_and_update();
        if now.generation != generation {
            reset(upstream);
            return reset(client);
        }
        if now.mode == Mode::BlackHole {
            if faults.changed().await.is_err() {
                return;
            }
            continue;
        }
        let arrived = tokio::select! {
            read = client.read(&mut from_client) => Arrived::FromClient(read),
            read = upstream.read(&mut from_upstream) => Arrived::FromUpstream(read),
            changed = faults.changed() => match changed {
                Ok(()) => continue,
                Err(_) => return,
            },
        };
        if !now.delay.is_zero() {
            tokio::time::sleep(now.delay).await;
        }
        // A close or an error on either side ends the connection, as a plain relay would.
        let forwarded = match arrived {
            Arrived::FromClient(Ok(n)) if n > 0 => upstream.write_all(&from_client[..n]).await,
            Arrived::FromUpstream(Ok(n)) if n > 0 => client.write_all(&from_upstream[..n]).await,
            _ => return,
        };
        if forwarded.is_err() {
            return;
        }
    }
}

/// What one wait on the connection brought.
enum Arrived {
    FromClient(std::io::Result<usize>),
    FromUpstream(std::io::Result<usize>),
}
