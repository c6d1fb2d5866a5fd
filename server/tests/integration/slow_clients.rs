//! Slow and stalled clients (slowloris): one that takes longer than
//! `SLIPWAY_CLIENT_TIMEOUT_SECONDS` over a request's headers, or stalls that long while sending
//! its body, has its connection closed, so such clients cannot hold connections open; a client
//! that sends its request at once is answered as usual.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::TestServer;

/// Reads until the server closes the connection (15 s at most): how long that took, and what
/// it sent.
async fn until_closed(stream: &mut TcpStream) -> (Duration, String) {
    let started = Instant::now();
    let mut received = Vec::new();
    let read = stream.read_to_end(&mut received);
    tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .expect("the server closes the connection within 15 s")
        .expect("read");
    (
        started.elapsed(),
        String::from_utf8_lossy(&received).into_owned(),
    )
}

#[tokio::test]
async fn clients_that_stall_over_headers_or_body_are_cut_off_and_prompt_ones_answered() {
    let server = TestServer::start(&[("SLIPWAY_CLIENT_TIMEOUT_SECONDS", "1".into())]).await;
    let address = server.base.trim_start_matches("http://").to_owned();

    // Headers that never end.
    let mut slow = TcpStream::connect(&address).await.expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: slipway\r\n")
        .await
        .expect("write");
    let (took, said) = until_closed(&mut slow).await;
    assert!(took < Duration::from_secs(5), "closed after {took:?}");
    assert!(!said.contains("200 OK"), "{said}");

    // A body that stops after a few bytes.
    let mut stalled = TcpStream::connect(&address).await.expect("connect");
    let request = format!(
        "POST /api/teams HTTP/1.1\r\nHost: slipway\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"name\"",
        server.admin_token
    );
    stalled.write_all(request.as_bytes()).await.expect("write");
    let (took, said) = until_closed(&mut stalled).await;
    assert!(
        took < Duration::from_secs(5),
        "closed after {took:?}: {said}"
    );
    let teams: serde_json::Value = server
        .http
        .get(server.url("/api/teams"))
        .send()
        .await
        .expect("teams")
        .json()
        .await
        .expect("json");
    assert_eq!(teams["items"], serde_json::json!([]), "nothing was made");

    // A prompt client on a connection of its own is answered.
    let mut prompt = TcpStream::connect(&address).await.expect("connect");
    prompt
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slipway\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let (_, said) = until_closed(&mut prompt).await;
    assert!(said.starts_with("HTTP/1.1 200 OK"), "{said}");
    server.stop().await;
}
