//! A node behind its own network namespace, for partition tests: each of its links (to its
//! clients, to PostgreSQL, to NATS) is a veth pair of its own, which a test cuts by setting the
//! root-side end down (packets then vanish in both directions: connections hang, as in a real
//! partition, rather than being reset) and heals by setting it up again.
//!
//! PostgreSQL and NATS listen on 127.0.0.1 in the root namespace only, which the node's
//! namespace cannot reach; a [`Relay`] in the test process listens on the root-side address of
//! the link (port 0) and copies each connection to the service, so the service's traffic goes
//! through that link and nothing else.
//!
//! Namespaces and links are named after the test process's id and a counter, and each node gets
//! a /24 of 10.231.0.0/16 that no interface holds yet (a /30 per link), so parallel tests and
//! parallel runs do not collide. Dropping a [`Netns`] deletes its links and namespace, also when
//! the test panics. Needs root and `ip` (iproute2); [`available`] says whether both are there.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::net::{TcpListener, TcpStream};

/// Runs `ip ARGS`, failing the test with its stderr if it fails.
fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap_or_else(|e| panic!("run ip {args:?}: {e}"));
    assert!(output.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&output.stderr).trim());
}

/// Whether network namespaces can be made here: `ip` runs, and a namespace can be added and
/// deleted (root, or the capability). The error says why not.
pub fn available() -> Result<(), String> {
    let name = format!("kpcheck{}n{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let added = Command::new("ip").args(["netns", "add", &name]).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if !added.status.success() {
        return Err(format!("ip netns add fails: {}", String::from_utf8_lossy(&added.stderr).trim()));
    }
    let _ = Command::new("ip").args(["netns", "del", &name]).status();
    Ok(())
}

/// One link of a node: a veth pair, `outside` in the root namespace, `inside` in the node's.
#[derive(Debug)]
pub struct Link {
    /// The root-side device, which [`Netns::cut`] sets down.
    outside: String,
    /// The root-side address.
    pub outside_ip: Ipv4Addr,
    /// The node-side address.
    pub inside_ip: Ipv4Addr,
}

/// Which link of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The node's client listener.
    Clients,
    /// PostgreSQL, through a relay.
    Postgres,
    /// NATS, through a relay.
    Nats,
}

/// A network namespace with a link per [`Which`].
#[derive(Debug)]
pub struct Netns {
    /// The namespace's name (for `ip netns exec`).
    pub name: String,
    links: Vec<(Which, Link)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// A new namespace with loopback up and its three links up.
    pub fn new() -> Netns {
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // A separator, so that pid 12 with n 34 and pid 123 with n 4 differ.
        let tag = format!("{}x{}", pid % 10_000_000, n % 100);
        let name = format!("kanect-part-{tag}");
        ip(&["netns", "add", &name]);
        let mut netns = Netns { name, links: Vec::new() };
        ip(&["-n", &netns.name, "link", "set", "lo", "up"]);
        let octet = netns.free_octet(pid, n);
        for (k, which, letter) in [(0u8, Which::Clients, 'c'), (1, Which::Postgres, 'p'), (2, Which::Nats, 'n')] {
            let outside = format!("kp{tag}{letter}o");
            let inside = format!("kp{tag}{letter}i");
            let outside_ip = Ipv4Addr::new(10, 231, octet, 4 * k + 1);
            let inside_ip = Ipv4Addr::new(10, 231, octet, 4 * k + 2);
            ip(&["link", "add", &outside, "type", "veth", "peer", "name", &inside]);
            // Owned from here: Drop deletes it even if a step below fails.
            netns.links.push((which, Link { outside: outside.clone(), outside_ip, inside_ip }));
            ip(&["link", "set", &inside, "netns", &netns.name]);
            ip(&["addr", "add", &format!("{outside_ip}/30"), "dev", &outside]);
            ip(&["link", "set", &outside, "up"]);
            ip(&["-n", &netns.name, "addr", "add", &format!("{inside_ip}/30"), "dev", &inside]);
            ip(&["-n", &netns.name, "link", "set", &inside, "up"]);
        }
        netns
    }

    /// A third octet of 10.231.0.0/16 that no address in the root namespace is in.
    fn free_octet(&self, pid: u32, n: u32) -> u8 {
        let start = pid.wrapping_mul(2_654_435_761).wrapping_add(n.wrapping_mul(40_503)) >> 24;
        for step in 0..256u32 {
            let octet = ((start + step) % 256) as u8;
            let output = Command::new("ip")
                .args(["-o", "addr", "show", "to", &format!("10.231.{octet}.0/24")])
                .output()
                .expect("ip addr show");
            if output.stdout.is_empty() {
                return octet;
            }
        }
        panic!("no free /24 in 10.231.0.0/16");
    }

    /// The link `which`.
    pub fn link(&self, which: Which) -> &Link {
        &self.links.iter().find(|(w, _)| *w == which).expect("every link is made").1
    }

    /// Cuts the link: its root-side end goes down, and packets on it vanish both ways.
    pub fn cut(&self, which: Which) {
        ip(&["link", "set", &self.link(which).outside, "down"]);
    }

    /// Heals a cut link.
    pub fn heal(&self, which: Which) {
        ip(&["link", "set", &self.link(which).outside, "up"]);
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting one end of a veth pair deletes the other: the root side goes at once, even if
        // a process inside keeps the namespace alive a moment longer.
        for (_, link) in &self.links {
            let _ = Command::new("ip").args(["link", "del", &link.outside]).status();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// A TCP relay in the test process: listens on `listen` (port 0) and copies each connection to
/// `target` and back. Stops (and drops its connections) when dropped.
#[derive(Debug)]
pub struct Relay {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Starts a relay on `ip`, port 0, to `target`.
    pub async fn start(ip: Ipv4Addr, target: SocketAddr) -> Relay {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind the relay");
        let addr = listener.local_addr().expect("relay address");
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else { continue };
                connections.spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
                // Finished copies are reaped as new ones come.
                while connections.try_join_next().is_some() {}
            }
        });
        Relay { addr, task }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The host and port of a service URL such as `postgres://user@127.0.0.1:5432/db` or
/// `nats://127.0.0.1:4222`, as a socket address.
pub fn service_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    host_port.parse().unwrap_or_else(|e| panic!("{url}: the tests need an IP address and a port ({e})"))
}

/// `url` with its host and port replaced by `addr`.
pub fn via(url: &str, addr: SocketAddr) -> String {
    url.replacen(&service_addr(url).to_string(), &addr.to_string(), 1)
}
