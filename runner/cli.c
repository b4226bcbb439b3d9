/* cli.c: parses matrixrun's command line and dispatches to one handler per verb. */
#define _GNU_SOURCE
#include "cli.h"


#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "guest.h"
#include "leftover.h"
#include "matrix.h"
#include "pipeline.h"
#include "ssh.h"

struct cli {
    const char *outdir;
    int accel;
    const char *uri;
    const char *catalogue;
    int quiet;
};

static const char usage_text[] =
    "Usage: matrixrun [run] MATRIX.xml [-o DIR] [--accel kvm|tcg|auto] [--connect URI] [-q]\n"
    "       matrixrun validate MATRIX.xml\n"
    "       matrixrun list MATRIX.xml\n"
    "       (each also takes -C FILE)\n"
    "       matrixrun clean [--connect URI]\n"
    "       matrixrun --help | --version\n"
    "\n"
    "Boots each image of the matrix as a guest, installs the package over SSH, runs the\n"
    "tests and writes JUnit XML.\n"
    "\n"
    "Verbs:\n"
    "  run        run the matrix (the default verb)\n"
    "  validate   check the matrix (schema, values, files); boots nothing\n"
    "  list       print the matrix's cells, one per line\n"
    "  clean      remove what killed runs left behind: their work folders (overlays,\n"
    "             seeds, keys) under $MATRIXRUN_WORKDIR or /var/tmp/matrixrun, and\n"
    "             guests tagged as matrixrun's whose run is over (default URI\n"
    "             qemu:///system); running runs are left alone\n"
    "\n"
    "Options of every verb:\n"
    "  -C, --catalogue FILE  OS-family catalogue to use instead of the built-in one\n"
    "                        (images/families.xml); also MATRIXRUN_CATALOGUE\n"
    "\n"
    "Options of run:\n"
    "  -o, --output DIR      report folder (default: reports); writes DIR/junit.xml\n"
    "                        and DIR/<cell>/{serial.log,artifacts.tar.gz}\n"
    "      --accel ACCEL     kvm, tcg or auto; overrides the matrix's <host accel>\n"
    "      --connect URI     libvirt URI; overrides the matrix's <host uri>\n"
    "  -q, --quiet           no progress lines\n"
    "\n"
    "Exit codes: 0 every test passed; 1 a test failed; 2 usage or matrix error (nothing\n"
    "booted); 3 infrastructure error (a cell could not be run); 130/143 interrupted.\n";

static void progress_line(void *ud, enum mr_progress_kind kind, const char *cell,
                          const char *msg)
{
    const struct cli *c = ud;
    (void)kind;
    if (c->quiet)
        return;
    time_t t = time(NULL);
    struct tm tm;
    char ts[16];
    localtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    if (cell)
        fprintf(stderr, "[%s] %s: %s\n", ts, cell, msg);
    else
        fprintf(stderr, "[%s] %s\n", ts, msg);
}

static int load(const struct cli *c, const char *path, struct mr_matrix **m)
{
    struct mr_err e = { 0 };
    const char *cat = c->catalogue ? c->catalogue : getenv("MATRIXRUN_CATALOGUE");
    if (cat && cat[0] && mr_family_catalogue_load(cat, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    if (mr_matrix_load(path, m, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    return 0;
}

static int cmd_validate(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    printf("%s: valid: %zu image(s), %zu test(s), package %s %s\n", path, m->n_images,
           m->n_tests, m->pkg_name, m->pkg_version);
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

static int cmd_list(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    for (size_t i = 0; i < m->n_images; i++) {
        const struct mr_image *img = &m->images[i];
        printf("%s\tfamily=%s\tversion=%s\tvcpus=%u\tmemory-mib=%u\tprovisioning=%s\n",
               img->name, img->family, img->os_version ? img->os_version : "-", img->vcpus,
               img->memory_mib, img->hostkey ? "cmdline" : "seed");
    }
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

static int cmd_clean(struct cli *c, const char *unused)
{
    (void)unused;
    const char *uri = c->uri ? c->uri : MR_DEFAULT_URI;
    const char *base = mr_leftover_workbase(NULL);
    struct mr_err e = { 0 };
    virConnectPtr conn = mr_guest_connect(uri, &e);
    if (!conn) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_INFRA;
    }
    struct mr_leftovers l = { 0 };
    int r = mr_leftover_scan(conn, base, &l, &e);
    if (r == 0) {
        for (size_t i = 0; i < l.n_domains; i++)
            printf("destroying guest %s\n", l.domains[i]);
        for (size_t i = 0; i < l.n_dirs; i++)
            printf("removing work folder %s\n", l.dirs[i]);
        r = mr_leftover_remove(conn, &l, &e);
        if (!c->quiet)
            printf("clean: %zu guest(s) and %zu work folder(s) of earlier runs removed\n",
                   l.n_domains, l.n_dirs);
    }
    if (r < 0)
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
    mr_leftovers_release(&l);
    mr_err_release(&e);
    virConnectClose(conn);
    return r < 0 ? MR_EXIT_INFRA : MR_EXIT_OK;
}

static void on_signal(int sig)
{
    mr_interrupted = sig;
}

static int cmd_run(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed SSH socket must be an error return, not a dead process. */
    signal(SIGPIPE, SIG_IGN);

    struct mr_run_opts o = {
        .outdir = c->outdir, .accel = c->accel, .uri = c->uri,
        .progress = progress_line, .progress_ud = c,
    };
    struct mr_run_result res;
    struct mr_err e = { 0 };
    r = mr_pipeline_run(m, &o, &res, &e);
    mr_matrix_free(m);
    if (r < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        mr_run_result_release(&res);
        return r == -EINVAL ? MR_EXIT_USAGE : MR_EXIT_INFRA;
    }
    struct mr_counts n = mr_report_counts(res.report);
    size_t passed = n.tests - n.failures - n.errors - n.skipped;
    if (!c->quiet)
        printf("%zu cell(s), %zu testcase(s): %zu passed, %zu failed, %zu error(s), %zu skipped\n"
               "report: %s\n",
               res.report->n_suites, n.tests, passed, n.failures, n.errors, n.skipped,
               res.junit_path);
    int code = mr_pipeline_exit_code(res.report);
    if (res.interrupted)
        code = 128 + (int)mr_interrupted;
    mr_run_result_release(&res);
    return code;
}

struct verb {
    const char *name;
    int (*fn)(struct cli *c, const char *matrix);
    int takes_matrix;
};

static const struct verb verbs[] = {
    { "run", cmd_run, 1 },
    { "validate", cmd_validate, 1 },
    { "list", cmd_list, 1 },
    { "clean", cmd_clean, 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "matrixrun: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'matrixrun --help'.\n");
    return MR_EXIT_USAGE;
}

int mr_cli_main(int argc, char **argv)
{
    struct cli c = { .outdir = "reports", .accel = -1 };
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "accel", required_argument, NULL, 'a' },
        { "connect", required_argument, NULL, 'c' },
        { "quiet", no_argument, NULL, 'q' },
        { "catalogue", required_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    /* GNU getopt permutes: options may stand before or after the verb and the matrix. */
    while ((opt = getopt_long(argc, argv, "o:qhVC:", opts, NULL)) != -1) {
        switch (opt) {
        case 'o':
            c.outdir = optarg;
            break;
        case 'a': {
            enum mr_accel a;
            if (mr_accel_parse(optarg, &a) < 0)
                return usage_error("--accel '%s' is not one of: kvm, tcg, auto", optarg);
            c.accel = (int)a;
            break;
        }
        case 'c':
            c.uri = optarg;
            break;
        case 'q':
            c.quiet = 1;
            break;
        case 'C':
            c.catalogue = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return MR_EXIT_OK;
        case 'V':
            printf("matrixrun %s\n", MR_VERSION);
            return MR_EXIT_OK;
        default:
            fprintf(stderr, "Try 'matrixrun --help'.\n");
            return MR_EXIT_USAGE;
        }
    }
    const char *words[2] = { NULL, NULL };
    int nwords = 0;
    for (; optind < argc; optind++) {
        if (nwords == 2)
            return usage_error("unexpected argument '%s'", argv[optind]);
        words[nwords++] = argv[optind];
    }
    if (nwords == 0)
        return usage_error("%s", "no matrix given");
    const struct verb *v = NULL;
    const char *matrix = words[0];
    for (size_t i = 0; i < MR_ARRAY_SIZE(verbs); i++)
        if (strcmp(words[0], verbs[i].name) == 0)
            v = &verbs[i];
    if (v && !v->takes_matrix) {
        if (nwords == 2)
            return usage_error("unexpected argument '%s'", words[1]);
        matrix = NULL;
    } else if (v) {
        if (nwords < 2)
            return usage_error("'%s' needs a matrix file", v->name);
        matrix = words[1];
    } else {
        if (nwords == 2)
            return usage_error("unknown verb '%s'", words[0]);
        v = &verbs[0];
    }
    return v->fn(&c, matrix);
}
