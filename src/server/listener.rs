//! Listening sockets: one per acceptor, all on the same address with `SO_REUSEPORT`, so the
//! kernel spreads new connections across acceptors and no lock is shared on accept.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// Binds `count` listeners on `addr`. Port 0 picks a free port once; the others join it.
pub fn bind(addr: SocketAddr, count: usize, backlog: u32) -> io::Result<Vec<TcpListener>> {
    let first = listen(addr, backlog)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..count {
        listeners.push(listen(addr, backlog)?);
    }
    Ok(listeners)
}

fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // SO_REUSEADDR: restart without waiting for TIME_WAIT sockets of the last run.
    socket.set_reuse_address(true)?;
    // SO_REUSEPORT (socket(7)): several sockets, one per acceptor, share the port.
    socket.set_reuse_port(true)?;
    // TCP_NODELAY (tcp(7)): answers are one small write; do not hold them for Nagle.
    // Accepted sockets inherit it on Linux.
    socket.set_tcp_nodelay(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
