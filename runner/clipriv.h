/* clipriv.h: the command line's option parser, exported for tests/check_cli.c only (as
 * libvirt's *priv.h files are). Everything else calls mr_cli_main() in cli.h.
 *
 * Ownership: the strings in struct mr_cli_opts are borrowed from argv; its only array
 * is released with mr_cli_opts_release(). */
#ifndef MR_CLIPRIV_H
#define MR_CLIPRIV_H

#include <stddef.h>

#include "cli.h"

/* The options of every verb, as given. */
struct mr_cli_opts {
    const char *outdir;     /* -o as given, or NULL */
    int accel;              /* an enum mr_accel, or -1 when not given */
    const char *uri;        /* --connect/-c, or NULL */
    const char *catalogue;  /* -C, or NULL */
    int quiet;
    char **only;            /* --only patterns, borrowed from argv */
    size_t n_only;
    unsigned shard_i;       /* --shard I/N; 0/0 when not given */
    unsigned shard_n;
    unsigned jobs;          /* 0: as the host's capacity allows */
    double overcommit_cpu;  /* 0: the pipeline's default */
    double overcommit_mem;
    int stagger_ms;         /* --stagger in milliseconds; <0: the pipeline's default */
    int keep;               /* enum mr_keep: --keep-failed, --keep */
    long keep_for_s;        /* --keep-for in seconds; 0: MR_DEFAULT_KEEP_FOR_S */
    int list;               /* clean --list */
    int kept;               /* clean --kept */
    int network;            /* enum mr_network, or -1 when not given */
    int boot;               /* enum mr_boot: --warm, --cold, or 0 for each image's */
};

/* mr_cli_parse()'s return when a verb is to run. */
#define MR_CLI_CONTINUE (-1)

/* Parses argv's options into *ret with getopt_long, which permutes argv: the positional
 * words (verb, files) end up at argv[*ret_words..argc), in their order. Returns
 * MR_CLI_CONTINUE with *ret and *ret_words set, or else the exit code, after printing:
 * MR_EXIT_OK for --help and --version, MR_EXIT_USAGE for a bad option or value. */
int mr_cli_parse(int argc, char **argv, struct mr_cli_opts *ret, int *ret_words);
void mr_cli_opts_release(struct mr_cli_opts *o);

#endif
