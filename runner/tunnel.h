/* tunnel.h: one SSH connection to a remote libvirt host, named by its libvirt URI
 * (qemu+ssh://user@host:port/system?keyfile=...), that carries TCP connections to ports
 * on that host's loopback the way `ssh -L` does. Guests on a remote host forward their
 * SSH port to that host's 127.0.0.1 only; matrixrun reaches them through here.
 *
 * A struct mr_tunnel is heap-allocated by mr_tunnel_open() and freed by
 * mr_tunnel_close(). A descriptor returned by mr_tunnel_dial() belongs to the caller,
 * who closes it; it stays valid after mr_tunnel_close() and then reads end-of-file. */
#ifndef MR_TUNNEL_H
#define MR_TUNNEL_H

#include <stdint.h>

#include "util.h"

struct mr_tunnel;

/* Whether a libvirt URI reaches libvirtd over the network: 1 when it names a host or a
 * network transport (qemu+ssh://h/system, qemu://h/system, qemu+tcp:///system), 0 when
 * it is local (qemu:///system, test:///default, qemu+unix:///system), -EINVAL when it is
 * not a URI. Only the syntax is looked at: qemu+ssh://127.0.0.1/system is remote. */
int mr_tunnel_uri_is_remote(const char *uri);

/* Connects to the host of an SSH-transport libvirt URI, DRIVER+ssh://[user@]host[:port]/...
 * (+libssh2 and +libssh are taken too), checks its host key, logs in and starts the
 * thread that carries the tunnel's traffic. Host "localhost", the current user and port
 * 22 when the URI leaves them out, as libvirt does.
 *
 * URI parameters, with libvirt's meaning (others, such as socket= or mode=, are
 * libvirt's own and left alone):
 *   keyfile=PATH   the private key to log in with, and no other; without it
 *                  ~/.ssh/id_ed25519, ~/.ssh/id_rsa, then the ssh-agent at SSH_AUTH_SOCK
 *   known_hosts=PATH  OpenSSH known_hosts file with the host's key (default
 *                  ~/.ssh/known_hosts; /etc/ssh/ssh_known_hosts is read as well); a port
 *                  other than 22 is looked up as [host]:port, the way OpenSSH writes it
 *   no_verify=1    accept a host the files do not list; a listed host whose key differs
 *                  is still refused ("existing host keys will still be validated")
 *   known_hosts_verify=normal|auto|ignore   auto is no_verify=1; ignore checks nothing
 * Nothing is ever written to a known_hosts file. ~ is $HOME, else the passwd entry.
 *
 * Returns 0; -EINVAL (not an SSH URI, bad parameter), -EPERM (host key refused, login
 * refused), -ETIMEDOUT, -EINTR (mr_interrupted), or -errno of the TCP connection; err
 * names the host and says why. */
int mr_tunnel_open(const char *uri, int64_t deadline_ms, struct mr_tunnel **ret,
                   struct mr_err *err) MR_WUR;

/* Opens a TCP connection from the tunnel's host to host:port (as that host resolves
 * it, so "127.0.0.1" is the remote loopback) and returns one end of a local stream
 * socket pair (blocking, close-on-exec) joined to it: bytes flow both ways, end-of-file
 * arrives when the far side closes, and closing the descriptor closes the connection.
 * Safe to call from several threads at once.
 * When the tunnel's SSH connection was lost, the dial first opens it again (with the
 * URI's parameters, host key checked again); the connections it carried stay lost.
 * Returns the descriptor, or -ECONNREFUSED (the host could not connect to host:port:
 * nothing listens there yet, say), -EPERM (the SSH server forbids forwarding),
 * -ETIMEDOUT, -EINTR, -ENOTCONN (the connection is lost and could not be opened again,
 * now or in a try less than 2 s ago), -EINVAL; err says which. */
int mr_tunnel_dial(struct mr_tunnel *t, const char *host, int port, int64_t deadline_ms,
                   struct mr_err *err) MR_WUR;

/* mr_tunnel_dial() in the shape of struct mr_transport_target's dial callback
 * (transport.h): tunnel is the struct mr_tunnel *, given as dial_ctx. */
int mr_tunnel_dial_cb(void *tunnel, const char *host, int port, int64_t deadline_ms,
                      struct mr_err *err) MR_WUR;

/* How many times a lost connection was opened again. */
unsigned mr_tunnel_reopens(struct mr_tunnel *t);

/* "user@host:port", for messages; borrowed from t. */
const char *mr_tunnel_name(const struct mr_tunnel *t);

/* Stops the tunnel's thread and closes its SSH connection; descriptors from
 * mr_tunnel_dial() then read end-of-file. No mr_tunnel_dial() may be running on t.
 * NULL does nothing. */
void mr_tunnel_close(struct mr_tunnel *t);

#endif
