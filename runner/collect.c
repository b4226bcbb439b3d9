/* collect.c: a cell's collect phase: the family's logs and the guest's kernel out of the
 * guest, the serial log from a remote host, and the artifacts archive of it all. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "family.h"

/* Keeps a collected log for the archive, taking over the buffer that holds it. */
static void add_file(struct mr_cell_run *cl, const char *name, struct mr_buf *data)
{
    cl->files = mr_xrealloc(cl->files, (cl->n_files + 1) * sizeof(*cl->files));
    size_t len;
    char *owned = mr_buf_detach(data, &len);
    cl->files[cl->n_files++] = (struct mr_archive_member){ .name = mr_xstrdup(name),
                                                            .data = owned, .len = len };
}

/* A log's line in the manifest: its size, or how its command ended (signal: the name
 * SSH gave, NULL when it exited) with the first line of its error text. */
static void manifest_line(struct mr_cell_run *cl, const char *name, const char *signal,
                          int status, size_t out_len, size_t dropped, const char *err,
                          size_t err_len)
{
    if (signal)
        mr_buf_addf(&cl->manifest, "%-28s command killed by signal %s\n", name, signal);
    else if (status == MR_FAMILY_LOG_ABSENT_STATUS)
        mr_buf_addf(&cl->manifest, "%-28s absent: the guest has no such command (status %d)\n",
                    name, status);
    else if (status != 0)
        mr_buf_addf(&cl->manifest, "%-28s command exited with status %d%s\n", name, status,
                    status > 128 && status < 160 ? " (killed by a signal)" : "");
    else
        mr_buf_addf(&cl->manifest, "%-28s %zu bytes%s\n", name, out_len,
                    dropped ? " (cut at the output cap)" : "");
    const char *nl = err_len ? memchr(err, '\n', err_len) : NULL;
    if ((signal || (status != 0 && status != MR_FAMILY_LOG_ABSENT_STATUS)) && err_len)
        mr_buf_addf(&cl->manifest, "%-28s   %.*s\n", "", (int)(nl ? (size_t)(nl - err) : err_len),
                    err);
}

/* The logs the catalogue asks of the cell's OS version, in the catalogue's order; the
 * others go into the manifest as absent. Caller frees the array (not the logs). */
static const struct mr_family_log **cell_logs(struct mr_cell_run *cl, size_t *ret_n)
{
    const struct mr_family *f = cl->fam;
    const struct mr_family_log **logs = mr_xcalloc(f->n_logs + 1, sizeof(*logs));
    size_t n = 0;
    for (size_t i = 0; i < f->n_logs; i++) {
        if (mr_family_log_applies(&f->logs[i], cl->img->os_version)) {
            logs[n++] = &f->logs[i];
            continue;
        }
        _cleanup_free_ char *name = mr_xasprintf("logs/%s", f->logs[i].name);
        mr_buf_addf(&cl->manifest, "%-28s absent: %s %s does not have it (the catalogue asks "
                    "for it on versions %u to %u)\n",
                    name, f->name, cl->img->os_version, f->logs[i].min_version,
                    f->logs[i].max_version ? f->logs[i].max_version : 9999);
    }
    *ret_n = n;
    return logs;
}

/* The family's log commands one exec each: families that cannot batch them, and the
 * fallback when the batch failed. */
static void collect_logs_each(struct mr_cell_run *cl, const struct mr_family_log **logs,
                              size_t n_logs)
{
    int reconnected = 0;
    for (size_t i = 0; i < n_logs && !mr_interrupted; i++) {
        const struct mr_family_log *l = logs[i];
        _cleanup_free_ char *cmd = mr_cell_expand_log(cl, l->command);
        _cleanup_free_ char *name = mr_xasprintf("logs/%s", l->name);
        struct mr_err e = { 0 };
        struct mr_exec x;
        mr_exec_init(&x);
        int r = mr_cell_exec(cl, cmd, MR_CELL_LOG_TIMEOUT_MS, &x, &e);
        if (r < 0)
            mr_buf_addf(&cl->manifest, "%-28s not collected: %s\n", name, mr_err_msg(&e));
        else
            manifest_line(cl, name, x.exit_signal, x.exit_status, x.out.len, x.out_dropped,
                          x.err.data, x.err.len);
        if (r == 0 && x.out.len)
            add_file(cl, name, &x.out);
        mr_exec_release(&x);
        mr_err_release(&e);
        /* A dropped connection gets one new one; the log that failed is not asked again. */
        if (r == -EIO && (reconnected++ || mr_cell_reconnect(cl, &e) < 0)) {
            mr_err_release(&e);
            break;
        }
        if (cl->deadline_hit)
            break;
    }
}

/* The guest's kernel release as the report's guest.kernel. */
static void set_guest_kernel(struct mr_cell_run *cl, const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && n < 200 && s[n] != '\r' && s[n] != '\n' && s[n] != '\0')
        n++;
    if (n == 0)
        return;
    _cleanup_free_ char *k = mr_xstrndup(s, n);
    mr_suite_set_prop(cl->s, MR_PROP_GUEST_KERNEL, k);
}

void mr_cell_query_kernel(struct mr_cell_run *cl)
{
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    if (mr_cell_exec(cl, mr_family_kernel_query(cl->fam), 30000, &x, &e) == 0 &&
        x.exit_status == 0 && x.out.len)
        set_guest_kernel(cl, x.out.data, x.out.len);
    mr_exec_release(&x);
    mr_err_release(&e);
}

/* The batched script's commands: the cell's logs, then the kernel release. */
static char *logs_script(struct mr_cell_run *cl, const struct mr_family_log **logs, size_t n,
                         const char *nonce)
{
    char **cmds = mr_xcalloc(n, sizeof(*cmds));
    for (size_t i = 0; i + 1 < n; i++)
        cmds[i] = mr_cell_expand_log(cl, logs[i]->command);
    cmds[n - 1] = mr_xstrdup(MR_FAMILY_LOGS_KERNEL_QUERY);
    char *script = mr_family_logs_script((const char *const *)cmds, n, nonce);
    for (size_t i = 0; i < n; i++)
        free(cmds[i]);
    free(cmds);
    return script;
}

/* Files the logs the batched script returned, and the kernel release. */
static void file_batched_logs(struct mr_cell_run *cl, const struct mr_family_log **logs,
                              size_t nl, const struct mr_family_log_result *res)
{
    for (size_t i = 0; i < nl; i++) {
        _cleanup_free_ char *name = mr_xasprintf("logs/%s", logs[i]->name);
        manifest_line(cl, name, NULL, res[i].status, res[i].out_len, res[i].out_dropped,
                      res[i].err, res[i].err_len);
        if (res[i].out_len) {
            struct mr_buf b;
            mr_buf_init(&b);
            mr_buf_add(&b, res[i].out, res[i].out_len);
            add_file(cl, name, &b);
        }
    }
    if (res[nl].status == 0)
        set_guest_kernel(cl, res[nl].out, res[nl].out_len);
}

/* The family's log commands, and the kernel release for the report, in one exec
 * (mr_family_logs_script): every exec costs a TCG guest time before its command does
 * anything, once per log otherwise. Returns 0, or -1 when the script could not do it (a
 * dropped connection, a log too large for the exec's cap): the caller then asks each
 * command alone. */
static int collect_logs_batched(struct mr_cell_run *cl, const struct mr_family_log **logs,
                                size_t n_logs)
{
    size_t n = n_logs + 1;
    unsigned char rnd[16];
    char nonce[2 * sizeof(rnd) + 1];
    mr_random(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    _cleanup_free_ char *script = logs_script(cl, logs, n, nonce);
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    x.out_cap = n * (MR_EXEC_OUTPUT_CAP + 128);
    int r = mr_cell_exec(cl, script, MR_CELL_LOG_TIMEOUT_MS * (int64_t)n, &x, &e);
    _cleanup_free_ struct mr_family_log_result *res = mr_xcalloc(n, sizeof(*res));
    if (r == 0 &&
        (x.exit_signal || x.exit_status != 0 || x.out_dropped ||
         mr_family_logs_parse(x.out.data ? x.out.data : "", x.out.len,
                              x.err.data ? x.err.data : "", x.err.len, nonce, n,
                              MR_EXEC_OUTPUT_CAP, res) < 0))
        r = -EPROTO;
    if (r == 0) {
        file_batched_logs(cl, logs, n_logs, res);
    } else if (r == -ETIMEDOUT) {
        r = 0; /* the time they had is gone: asking again one by one would not help */
        mr_buf_addf(&cl->manifest, "logs not collected: %s\n", mr_err_msg(&e));
    } else if (r == -EIO && mr_cell_reconnect(cl, &e) < 0) {
        r = 0; /* no connection: the one-by-one fallback could not do better */
        mr_buf_addf(&cl->manifest, "logs not collected: the SSH connection dropped: %s\n",
                    mr_err_msg(&e));
    }
    mr_exec_release(&x);
    mr_err_release(&e);
    return r == 0 ? 0 : -1;
}

void mr_cell_collect_logs(struct mr_cell_run *cl)
{
    if (!mr_cell_connected(cl))
        return;
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "collecting logs");
    /* Logs matter most when the cell ran out of time: they get a time of their own. */
    if (cl->deadline_ms - mr_now_ms() < MR_CELL_LOG_TIMEOUT_MS) {
        cl->deadline_ms = mr_now_ms() + MR_CELL_LOG_TIMEOUT_MS;
        cl->deadline_hit = 0;
    }
    size_t n_logs;
    _cleanup_free_ const struct mr_family_log **logs = cell_logs(cl, &n_logs);
    int batches = mr_family_batches_logs(cl->fam);
    if (batches && collect_logs_batched(cl, logs, n_logs) == 0)
        return;
    if (cl->deadline_hit || mr_interrupted)
        return;
    collect_logs_each(cl, logs, n_logs);
    /* The batch would have asked for the kernel; the others asked after boot. */
    if (batches && mr_cell_connected(cl) && !cl->deadline_hit)
        mr_cell_query_kernel(cl);
}

void mr_cell_write_artifacts(struct mr_cell_run *cl)
{
    _cleanup_free_ char *path = mr_xasprintf("%s/artifacts.tar.gz", cl->celldir);
    size_t n = 0;
    struct mr_archive_member *m = mr_xcalloc(cl->n_files + 3, sizeof(*m));
    if (mr_file_exists(cl->serial))
        m[n++] = (struct mr_archive_member){ .name = "serial.log", .src_path = cl->serial };
    else
        mr_buf_addf(&cl->manifest, "%-28s not written by the guest\n", "serial.log");
    if (cl->install_out)
        m[n++] = (struct mr_archive_member){ .name = "install.txt", .data = cl->install_out,
                                              .len = cl->install_out_len };
    for (size_t i = 0; i < cl->n_files; i++)
        m[n++] = cl->files[i];
    m[n++] = (struct mr_archive_member){ .name = "MANIFEST.txt", .data = cl->manifest.data,
                                          .len = cl->manifest.len };
    struct mr_err e = { 0 };
    if (mr_archive_write_targz(path, m, n, &e) == 0) {
        _cleanup_free_ char *line = mr_xasprintf("[[ATTACHMENT|%s]]\n", path);
        mr_suite_add_out(cl->s, line);
    } else {
        _cleanup_free_ char *line =
            mr_xasprintf("matrixrun: the cell's artifacts could not be archived: %s\n",
                         mr_err_msg(&e));
        mr_suite_add_out(cl->s, line);
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "WARNING %s", line);
    }
    mr_err_release(&e);
    free(m);
}

void mr_cell_fetch_serial(struct mr_cell_run *cl)
{
    if (!cl->rs.serial)
        return;
    struct mr_err e = { 0 };
    if (mr_remote_store_fetch_serial(&cl->rs, cl->serial, &e) < 0) {
        mr_buf_addf(&cl->manifest, "%-28s not copied from the host: %s\n", "serial.log",
                    mr_err_msg(&e));
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "WARNING %s",
                             mr_err_msg(&e));
    }
    mr_err_release(&e);
}
