//! [`FaultyLink`]: a TCP link on 127.0.0.1 to a cluster that a test can break, standing for a
//! database server that stops taking writes. Each connection through it is two threads copying
//! bytes; the client's side is read as PostgreSQL's protocol, so the link can count statements
//! (each `Execute` of the extended protocol, each simple `Query`) and break after the Nth.
//! Broken, it closes every connection through it and every new one at once, so a transaction
//! in flight is rolled back by the server, as after a crash of the link; cleared, it carries
//! connections again.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What the link lets through.
#[derive(Debug, Default)]
struct State {
    /// Broken: nothing passes.
    broken: AtomicBool,
    /// Statements still let through before it breaks; `u64::MAX` for no limit.
    allowed: AtomicU64,
    /// The connections through it, to close when it breaks.
    open: Mutex<Vec<TcpStream>>,
}

impl State {
    fn break_all(&self) {
        self.broken.store(true, Ordering::SeqCst);
        for stream in self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Counts one statement; false if the link breaks at it.
    fn statement(&self) -> bool {
        let before = self
            .allowed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                (left != u64::MAX).then(|| left.saturating_sub(1))
            });
        match before {
            Ok(0) => {
                self.break_all();
                false
            }
            _ => !self.broken.load(Ordering::SeqCst),
        }
    }
}

/// A breakable link to a cluster's port.
#[derive(Debug)]
pub struct FaultyLink {
    port: u16,
    state: Arc<State>,
}

impl FaultyLink {
    /// A link on a free port of 127.0.0.1 to `target`, the cluster's port.
    pub fn start(target: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(State {
            allowed: AtomicU64::new(u64::MAX),
            ..State::default()
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if shared.broken.load(Ordering::SeqCst) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                carry(client, server, Arc::clone(&shared));
            }
        });
        Ok(Self { port, state })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` through the link.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }

    /// Breaks it now.
    pub fn break_now(&self) {
        self.state.break_all();
    }

    /// Lets `statements` more statements through, then breaks.
    pub fn break_after(&self, statements: u64) {
        self.state
            .allowed
            .store(statements.max(1), Ordering::SeqCst);
    }

    /// Carries connections again, with no limit.
    pub fn clear(&self) {
        self.state.allowed.store(u64::MAX, Ordering::SeqCst);
        self.state.broken.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes both ways between `client` and `server` until either side closes or the link
/// breaks, counting the client's statements.
fn carry(client: TcpStream, server: TcpStream, state: Arc<State>) {
    let mut open = state.open.lock().unwrap_or_else(PoisonError::into_inner);
    for stream in [&client, &server] {
        if let Ok(clone) = stream.try_clone() {
            open.push(clone);
        }
    }
    drop(open);
    let (Ok(mut from_server), Ok(mut to_client)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        let _ = client_to_server(client, server, &state);
    });
}

/// Forwards the client's messages whole, one at a time, counting statements: the startup
/// message first (no type byte), then typed messages.
fn client_to_server(
    mut client: TcpStream,
    mut server: TcpStream,
    state: &State,
) -> std::io::Result<()> {
    let mut started = false;
    loop {
        let mut head = [0u8; 5];
        let (typed, header) = if started {
            client.read_exact(&mut head)?;
            (Some(head[0]), &head[..])
        } else {
            client.read_exact(&mut head[..4])?;
            (None, &head[..4])
        };
        let length_bytes: [u8; 4] = header[header.len() - 4..]
            .try_into()
            .map_err(std::io::Error::other)?;
        let length = u32::from_be_bytes(length_bytes) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        client.read_exact(&mut body)?;
        if matches!(typed, Some(b'E' | b'Q')) && !state.statement() {
            let _ = server.shutdown(Shutdown::Both);
            return Ok(());
        }
        if state.broken.load(Ordering::SeqCst) {
            let _ = server.shutdown(Shutdown::Both);
            return Ok(());
        }
        server.write_all(header)?;
        server.write_all(&body)?;
        // An SSL request is answered with one byte and followed by the real startup message.
        let ssl_request = !started && body.len() == 4 && body == 80_877_103u32.to_be_bytes();
        started = !ssl_request;
    }
}
