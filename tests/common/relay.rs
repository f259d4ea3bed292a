//! A TCP relay on loopback that a test can cut, stop and restart: a
//! database (or any server) that goes away and comes back.
#![allow(dead_code)]

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

/// The relay's accepting thread and its keep-running flag.
type Acceptor = (JoinHandle<()>, Arc<AtomicBool>);

/// A TCP relay on loopback between the store and PostgreSQL that the test can
/// cut (every relayed connection dies) and stop/restart (nothing listens).
pub struct Relay {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    streams: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Mutex<Option<Acceptor>>,
}

impl Relay {
    pub fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let relay = Relay {
            addr: listener.local_addr().unwrap(),
            upstream,
            streams: Arc::default(),
            acceptor: Mutex::new(None),
        };
        relay.serve(listener);
        relay
    }

    fn serve(&self, listener: TcpListener) {
        let running = Arc::new(AtomicBool::new(true));
        let (streams, upstream, still) = (self.streams.clone(), self.upstream, running.clone());
        let handle = thread::spawn(move || {
            for client in listener.incoming() {
                if !still.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let mut all = streams.lock().unwrap();
                all.push(client.try_clone().unwrap());
                all.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    thread::spawn(move || {
                        let _ = io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        *self.acceptor.lock().unwrap() = Some((handle, running));
    }

    /// Kills every relayed connection; new ones are still accepted.
    pub fn cut(&self) {
        for stream in self.streams.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Nothing listens any more, and every relayed connection is dead.
    pub fn stop(&self) {
        if let Some((handle, running)) = self.acceptor.lock().unwrap().take() {
            running.store(false, Ordering::SeqCst);
            let _ = TcpStream::connect(self.addr); // wakes the acceptor
            handle.join().unwrap();
        }
        self.cut();
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        let listener = TcpListener::bind(self.addr).unwrap();
        self.serve(listener);
    }
}

/// A relay in front of the PostgreSQL of `settings`, and settings that go
/// through it.
pub fn relayed(settings: vaultd::store::PgSettings) -> (Relay, vaultd::store::PgSettings) {
    use std::net::ToSocketAddrs;
    let upstream = (settings.host.as_str(), settings.port)
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let relay = Relay::start(upstream);
    let via_relay = vaultd::store::PgSettings {
        host: "127.0.0.1".into(),
        port: relay.addr.port(),
        ..settings
    };
    (relay, via_relay)
}
