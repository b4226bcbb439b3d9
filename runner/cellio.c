/* cellio.c: a cell's guest I/O (connect, reconnect, exec, upload, disconnect), the one
 * place where the pipeline meets the transport that carries it (transport.h; SSH today). */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "family.h"
#include "seed.h"
#include "tunnel.h"

/* The end of the serial log read for a seed script's stop message: the script writes it
 * last, and the log of a Windows guest that waits is short. */
#define SEED_ERROR_SCAN_BYTES 65536

enum mr_keytype mr_cell_keytype(const struct mr_cell_run *cl)
{
    return mr_family_keytype(cl->fam, cl->img->os_version);
}

const struct mr_sshkey *mr_cell_user_key(const struct mr_cell_run *cl)
{
    if (cl->img->login_key)
        return &cl->login;
    return &cl->run->keys[mr_cell_keytype(cl)];
}

void mr_cell_set_methods(struct mr_suite *s, const struct mr_transport_methods *m)
{
    mr_suite_set_prop(s, MR_PROP_SSH_HOSTKEY, m->hostkey);
    mr_suite_set_prop(s, MR_PROP_SSH_KEX, m->kex);
    mr_suite_set_prop(s, MR_PROP_SSH_CIPHER, m->cipher);
    mr_suite_set_prop(s, MR_PROP_SSH_MAC, m->mac);
}

/* Each new connection says again what it negotiated: a reconnect may meet a guest whose
 * sshd changed its mind (a restarted sshd with another configuration). */
static int connected(struct mr_cell_run *cl, int r)
{
    struct mr_transport_methods m;
    if (r == 0 && mr_transport_methods(cl->conn, &m) == 0)
        mr_cell_set_methods(cl->s, &m);
    return r;
}

/* A Windows seed script that cannot give the guest SSH says so on COM1 and stops
 * (seed.h): the connect ends then, instead of at the boot timeout (1200 s for windows). */
static int seed_gave_up(void *ctx, struct mr_err *e)
{
    const struct mr_cell_run *cl = ctx;
    int fd = open(cl->serial, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0)
        return 0;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return 0;
    }
    off_t from = st.st_size > SEED_ERROR_SCAN_BYTES ? st.st_size - SEED_ERROR_SCAN_BYTES : 0;
    char *buf = mr_xmalloc(SEED_ERROR_SCAN_BYTES);
    ssize_t n = pread(fd, buf, SEED_ERROR_SCAN_BYTES, from);
    close(fd);
    _cleanup_free_ char *line = n > 0 ? mr_seed_serial_error(buf, (size_t)n) : NULL;
    free(buf);
    if (!line)
        return 0;
    mr_err_set(e, "the guest's seed script stopped, so SSH will never answer; its serial "
                  "console says: %s", line);
    return -ECANCELED;
}

int mr_cell_connect(struct mr_cell_run *cl, int64_t deadline_ms, struct mr_err *e)
{
    cl->target = (struct mr_transport_target){
        .host = "127.0.0.1", .port = cl->port, .user = cl->img->user, .key = mr_cell_user_key(cl),
        .tty = mr_family_tty(cl->fam, cl->img->os_version),
        .pinned_host = &cl->hostkey, .retry_host_mismatch = cl->seed_iso != NULL,
        .auth_refusal_final = cl->img->login_key != NULL,
        .dial = cl->host->tunnel ? mr_tunnel_dial_cb : NULL, .dial_ctx = cl->host->tunnel,
    };
    /* The serial log is on this host only for local hosts (a remote one's is a volume in
     * its pool, fetched at the end). */
    if (cl->seed_iso && cl->fam->seed == MR_SEED_CLOUDBASE_INIT && !cl->host->pool) {
        cl->target.give_up = seed_gave_up;
        cl->target.give_up_ctx = cl;
    }
    return connected(cl, mr_transport_connect(&mr_ssh_transport, &cl->target, deadline_ms,
                                              &cl->conn, e));
}

int64_t mr_cell_reconnect_deadline(int64_t now_ms, int64_t cell_deadline_ms)
{
    int64_t deadline = now_ms + MR_CELL_RECONNECT_TIMEOUT_S * 1000;
    return deadline > cell_deadline_ms ? cell_deadline_ms : deadline;
}

int mr_cell_reconnect(struct mr_cell_run *cl, struct mr_err *e)
{
    mr_cell_disconnect(cl);
    int64_t deadline = mr_cell_reconnect_deadline(mr_now_ms(), cl->deadline_ms);
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "reconnecting SSH");
    unsigned reopens = cl->host->tunnel ? mr_tunnel_reopens(cl->host->tunnel) : 0;
    int r = connected(cl, mr_transport_connect(&mr_ssh_transport, &cl->target, deadline,
                                               &cl->conn, e));
    if (r == 0)
        cl->reconnects++;
    /* A remote host's tunnel that had died too was opened again by the dial. */
    if (cl->host->tunnel && mr_tunnel_reopens(cl->host->tunnel) != reopens)
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name,
                             "the SSH tunnel to %s was lost and opened again",
                             mr_tunnel_name(cl->host->tunnel));
    return r;
}

int mr_cell_connected(const struct mr_cell_run *cl)
{
    return cl->conn != NULL;
}

void mr_cell_disconnect(struct mr_cell_run *cl)
{
    mr_transport_close(cl->conn);
    cl->conn = NULL;
}

static int no_connection(struct mr_err *e)
{
    mr_err_set(e, "no SSH connection to the guest");
    return -EIO;
}

int mr_cell_exec(struct mr_cell_run *cl, const char *cmd, int64_t timeout_ms,
                 struct mr_exec *x, struct mr_err *e)
{
    if (!cl->conn)
        return no_connection(e);
    int64_t left = cl->deadline_ms == INT64_MAX ? INT64_MAX : cl->deadline_ms - mr_now_ms();
    int clamped = left < timeout_ms;
    if (clamped)
        timeout_ms = left;
    _cleanup_free_ char *wrapped = mr_family_wrap(cl->fam, cmd);
    int r = mr_transport_exec(cl->conn, wrapped, timeout_ms > 0 ? timeout_ms : 1, x, e);
    if (r == -ETIMEDOUT && clamped) {
        cl->deadline_hit = 1;
        mr_err_set(e, "the cell's time limit of %u s (matrix cell-timeout) ran out",
                   cl->run->m->cell_timeout_s);
    }
    return r;
}

int mr_cell_upload(struct mr_cell_run *cl, const char *local, const char *remote, long mode,
                   int64_t timeout_ms, struct mr_err *e)
{
    if (!cl->conn)
        return no_connection(e);
    /* SFTP spells the guest's paths its own way (Windows' C:\x as /C:/x). */
    _cleanup_free_ char *sftp = mr_family_sftp_path(cl->fam, remote);
    return mr_transport_upload(cl->conn, local, sftp, mode, timeout_ms, e);
}
