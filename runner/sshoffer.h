/* sshoffer.h: what an SSH server offers (its key exchange, host key, cipher and MAC
 * algorithms), read from the first packet it sends on a connection of our own, so that
 * a handshake that found nothing in common can say what the server wanted.
 *
 * struct mr_ssh_offer is embedded: mr_ssh_offer_release() frees its strings. */
#ifndef MR_SSHOFFER_H
#define MR_SSHOFFER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Comma-separated name lists, as the server's KEXINIT gives them (client to server for
 * cipher and mac). */
struct mr_ssh_offer {
    char *kex;
    char *hostkey;
    char *cipher;
    char *mac;
};

/* Parses what a server sent from its first byte on: lines before its "SSH-" banner, the
 * banner, then its first binary packet, which must be an unencrypted KEXINIT. Returns 0,
 * -EAGAIN when data ends before the packet does, or -EPROTO. */
int mr_ssh_offer_parse(const char *data, size_t len, struct mr_ssh_offer *ret) MR_WUR;

/* Sends our banner on fd (a fresh connection to the server) and reads the server's
 * offer by deadline_ms. The caller keeps and closes fd. 0, or -errno with err set. */
int mr_ssh_offer_read(int fd, int64_t deadline_ms, struct mr_ssh_offer *ret,
                      struct mr_err *err) MR_WUR;

void mr_ssh_offer_release(struct mr_ssh_offer *o);

/* Whether the comma lists a and b share a name. */
int mr_ssh_names_meet(const char *a, const char *b);

#endif
