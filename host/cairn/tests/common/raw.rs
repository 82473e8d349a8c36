//! HTTP/1.1 spoken by hand over a TCP socket, for the tests of the HTTP edge: requests cut off
//! part way, sockets that stop reading, and whether the server closed a socket.
#![allow(dead_code, unreachable_pub)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A reply read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The head, lowercased, for looking up headers.
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == name).then(|| value.trim())
        })
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// A socket to `address`; reads give up after a minute.
pub fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
}

/// Sends `raw` on a new connection and reads the reply until the server closes it (send
/// `Connection: close`, or a request the server closes after).
pub fn exchange(address: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = connect(address);
    stream.write_all(raw).expect("sends");
    read_reply(&mut stream)
}

/// Reads a reply until the server closes the connection.
pub fn read_reply(stream: &mut TcpStream) -> Reply {
    let mut bytes = Vec::new();
    if let Err(e) = stream.read_to_end(&mut bytes) {
        assert!(
            e.kind() == ErrorKind::ConnectionReset && !bytes.is_empty(),
            "no whole reply: {e}; read {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
    parse(&bytes)
}

/// Parses a reply with a `Content-Length` body.
pub fn parse(bytes: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no reply head in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    Reply {
        status,
        head: head.to_lowercase(),
        body: body.to_owned(),
    }
}

/// A `GET path` that closes the connection after the reply.
pub fn get(address: SocketAddr, path: &str) -> Reply {
    exchange(
        address,
        format!("GET {path} HTTP/1.1\r\nHost: cairn\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// A `POST path` with a JSON body, closing the connection after the reply.
pub fn post(address: SocketAddr, path: &str, body: &str) -> Reply {
    exchange(
        address,
        format!(
            "POST {path} HTTP/1.1\r\nHost: cairn\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

/// Appends `count` events of about `bytes` bytes each to `stream`, one append each.
pub fn append_large(address: SocketAddr, stream: &str, count: usize, bytes: usize) {
    let padding = "x".repeat(bytes);
    for _ in 0..count {
        let body =
            format!(r#"{{"events": [{{"type": "Large", "data": {{"padding": "{padding}"}}}}]}}"#);
        let reply = post(address, &format!("/v1/streams/{stream}"), &body);
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
}

/// Whether the server closes `stream` within `limit`: reads (and drops) whatever comes until
/// the end of the stream or a reset.
pub fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).expect("read timeout");
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return true;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(e) => panic!("reading failed: {e}"),
        }
    }
}

/// The host and port of `http://host:port`.
pub fn address_of(url: &str) -> SocketAddr {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A socket to `address` whose receive buffer is small and fixed, so that a server sending to
/// it while it does not read fills its own send buffer soon (with the buffer left to the
/// kernel, loopback lets it grow to tens of MiB).
pub fn connect_with_small_window(address: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
        let stream = socket.connect(address).await.expect("connects");
        stream.into_std().expect("a std socket")
    });
    stream.set_nonblocking(false).expect("blocking");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("read timeout");
    stream
}

/// Reads from `stream` until the end of a reply head; returns it.
pub fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("reads the head");
        assert!(
            n == 1,
            "closed before the head ended: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}
