/* transport.c: a connection to a guest through whichever backend's table it was opened
 * with, and the output record every backend fills. */
#include "transport.h"

#include <errno.h>
#include <string.h>

struct mr_transport {
    const struct mr_transport_ops *ops;
    void *conn;
};

void mr_exec_init(struct mr_exec *x)
{
    memset(x, 0, sizeof(*x));
    mr_buf_init(&x->out);
    mr_buf_init(&x->err);
    x->exit_status = -1;
    x->out_cap = MR_EXEC_OUTPUT_CAP;
}

void mr_exec_release(struct mr_exec *x)
{
    mr_buf_release(&x->out);
    mr_buf_release(&x->err);
    free(x->exit_signal);
    x->exit_signal = NULL;
}

static void keep(struct mr_buf *b, size_t cap, size_t *dropped, const void *data, size_t n)
{
    size_t room = b->len < cap ? cap - b->len : 0;
    size_t take = n < room ? n : room;
    mr_buf_add(b, data, take);
    *dropped += n - take;
}

void mr_exec_add_out(struct mr_exec *x, const void *data, size_t n)
{
    keep(&x->out, x->out_cap, &x->out_dropped, data, n);
}

void mr_exec_add_err(struct mr_exec *x, const void *data, size_t n)
{
    keep(&x->err, MR_EXEC_OUTPUT_CAP, &x->err_dropped, data, n);
}

int mr_transport_connect(const struct mr_transport_ops *ops, const struct mr_transport_target *t,
                         int64_t deadline_ms, struct mr_transport **ret, struct mr_err *err)
{
    void *conn = NULL;
    int r = ops->connect(t, deadline_ms, &conn, err);
    if (r < 0)
        return r;
    struct mr_transport *tr = mr_xcalloc(1, sizeof(*tr));
    tr->ops = ops;
    tr->conn = conn;
    *ret = tr;
    return 0;
}

int mr_transport_exec(struct mr_transport *tr, const char *cmd, int64_t timeout_ms,
                      struct mr_exec *x, struct mr_err *err)
{
    return tr->ops->exec(tr->conn, cmd, timeout_ms, x, err);
}

int mr_transport_upload(struct mr_transport *tr, const char *local, const char *remote_path,
                        long mode, int64_t timeout_ms, struct mr_err *err)
{
    return tr->ops->upload(tr->conn, local, remote_path, mode, timeout_ms, err);
}

int mr_transport_methods(struct mr_transport *tr, struct mr_transport_methods *ret)
{
    if (!tr->ops->methods)
        return -ENOTSUP;
    return tr->ops->methods(tr->conn, ret);
}

const char *mr_transport_name(const struct mr_transport *tr)
{
    return tr->ops->name;
}

void mr_transport_close(struct mr_transport *tr)
{
    if (!tr)
        return;
    tr->ops->close(tr->conn);
    free(tr);
}
