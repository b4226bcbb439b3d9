/* keytype.h: the SSH key types matrixrun uses with a guest. The catalogue (family.h)
 * chooses one per family and OS version, from what the guest's OpenSSH and cloud-init
 * take; the seed, the run's user key pair and libssh2's host-key preference follow it. */
#ifndef MR_KEYTYPE_H
#define MR_KEYTYPE_H

enum mr_keytype {
    MR_KEYTYPE_ED25519, /* OpenSSH >= 6.5 and cloud-init >= 0.7.7 */
    MR_KEYTYPE_RSA,     /* 3072 bits, PEM private key: what OpenSSH 4.3 and 5.3 read */
};
#define MR_KEYTYPE_COUNT 2

/* The key type's name in OpenSSH's public key lines ("ssh-ed25519", "ssh-rsa"). */
static inline const char *mr_keytype_name(enum mr_keytype t)
{
    return t == MR_KEYTYPE_RSA ? "ssh-rsa" : "ssh-ed25519";
}

#endif
