/* cli.c: parses matrixrun's command line, dispatches to one handler per verb, and
 * prints a run's summary (the progress display is progress.c). */
#define _GNU_SOURCE
#include "cli.h"
#include "clipriv.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compare.h"
#include "doctor.h"
#include "family.h"
#include "guest.h"
#include "html.h"
#include "init.h"
#include "leftover.h"
#include "matrix.h"
#include "pipeline.h"
#include "progress.h"
#include "remote_store.h"
#include "report_read.h"
#include "ssh.h"

static const char usage_text[] =
    "Usage: matrixrun [run] MATRIX.xml [-o DIR] [-j N] [--accel kvm|tcg|auto] [--connect URI]\n"
    "                 [--overcommit CPU[:MEM]] [--stagger SECONDS] [-q]\n"
    "                 [--keep-failed | --keep] [--keep-for TIME]\n"
    "                 [--network isolated|outbound] [--warm | --cold]\n"
    "       matrixrun validate MATRIX.xml\n"
    "       matrixrun list MATRIX.xml\n"
    "       (each also takes -C FILE, --only PATTERN and --shard I/N)\n"
    "       matrixrun clean [MATRIX.xml | --connect URI] [--list | --kept]\n"
    "       matrixrun ssh RUN CELL [-- COMMAND...]\n"
    "       matrixrun doctor [-c URI] [-q]\n"
    "       matrixrun compare REPORT.xml [REPORT.xml]...\n"
    "       matrixrun html JUNIT.xml [-o FILE]\n"
    "       matrixrun init IMAGE... PACKAGE... [-o FILE]\n"
    "       matrixrun --help | --version\n"
    "\n"
    "Boots each image of the matrix as a guest, installs the package over SSH, runs the\n"
    "tests and writes JUnit XML.\n"
    "\n"
    "Verbs:\n"
    "  run        run the matrix (the default verb)\n"
    "  validate   check the matrix (schema, values, files); boots nothing\n"
    "  list       print the matrix's cells, one per line: the cell's id, then\n"
    "             image=, family=, version=, vcpus=, memory-mib=, provisioning=,\n"
    "             catalogue= (the family's entry: rhel<=7, rhel>=8...)\n"
    "             and the cell's variables as NAME=VALUE, separated by tabs\n"
    "  clean      remove what killed runs left behind: their work folders (overlays,\n"
    "             seeds, keys) under $MATRIXRUN_WORKDIR or /var/tmp/matrixrun, guests\n"
    "             tagged as this machine's whose run is over, and their volumes in a\n"
    "             host's matrixrun pool; on every host of MATRIX.xml, else on\n"
    "             --connect's (default qemu:///system); running runs are left alone\n"
    "  doctor     check whether this host can run guests and how: CPU flags,\n"
    "             /dev/kvm and a tiny KVM test guest, nested, permissions, QEMU,\n"
    "             libvirt at the URI (default qemu:///system); one 'ok|warn|FAIL'\n"
    "             line per check, a 'fix:' line under each warn and FAIL, then\n"
    "             'verdict: kvm', 'verdict: tcg only' or 'verdict: guests cannot run'\n"
    "             (exit 0 when guests can run, 3 when they cannot)\n"
    "  compare    print the CPU overhead of each cell (median and 95%% interval) in\n"
    "             each report given, oldest run first, and the change between one run\n"
    "             and the next, marked * when the two intervals do not overlap\n"
    "  html       write a report's HTML summary (verdicts, the end of failures' output,\n"
    "             cells' files and times, overhead chart): to -o FILE, default\n"
    "             summary.html next to the report (a run writes it itself)\n"
    "  ssh        log into a cell kept by --keep-failed or --keep: ssh with the\n"
    "             run's key and the guest's pinned host key (no prompt); the\n"
    "             command, if given, runs there instead of a shell\n"
    "  init       write a starter matrix for image files (.qcow2, .img, .raw) and the\n"
    "             package's files (.deb, .rpm, .msi): OS family and version guessed\n"
    "             from the file names and marked CHECK, an example test; to -o FILE\n"
    "             (a new file), default stdout; it passes validate as written\n"
    "\n"
    "Options of every verb:\n"
    "  -C, --catalogue FILE  OS-family catalogue to use instead of the built-in one\n"
    "                        (images/families.xml); also MATRIXRUN_CATALOGUE\n"
    "      --only PATTERN    only the cells whose id matches the shell pattern (as in\n"
    "                        'deb-*' or '*.vcpus=2'); repeat it to add cells; a pattern\n"
    "                        that matches no cell is an error\n"
    "      --shard I/N       of the cells (after --only), only the I-th of every N\n"
    "                        (1 <= I <= N <= 1000): the N shards are disjoint and\n"
    "                        together hold every cell, so N CI jobs split a matrix\n"
    "\n"
    "Options of run:\n"
    "  -o, --output DIR      report folder (default: reports); writes DIR/junit.xml\n"
    "                        and DIR/<cell>/{serial.log,artifacts.tar.gz}\n"
    "      --accel ACCEL     kvm, tcg or auto; overrides the matrix's <host accel>\n"
    "      --connect URI     libvirt URI; overrides the matrix's <host uri>\n"
    "  -j, --jobs N          run at most N cells at once (1 to 256; default: as many\n"
    "                        as the host's CPUs and memory hold)\n"
    "      --overcommit CPU[:MEM]\n"
    "                        ratios (above 0, at most 64) of the host the guests may\n"
    "                        use: vCPUs per host CPU, share of the free memory\n"
    "                        (default %g:%g; e.g. 2 or 2:0.8)\n"
    "      --stagger SECONDS least time between two guest starts (0 to 60, decimals\n"
    "                        allowed; default %g)\n"
    "  -q, --quiet           no progress lines and no summary\n"
    "      --keep-failed     leave the guests of cells that failed or errored running\n"
    "                        after the run (local hosts; not after an interrupt) and\n"
    "                        print the command that logs into each\n"
    "      --keep            the same for every cell\n"
    "      --network NET     isolated (guests reach nothing but their SSH forward) or\n"
    "                        outbound (NAT to what the host reaches, for package\n"
    "                        mirrors); overrides each image's network (default isolated)\n"
    "      --warm            boot each image once (per vCPUs, memory and network) and\n"
    "                        restore every cell from that guest's saved state\n"
    "      --cold            boot every cell's guest from its disk (the default, unless\n"
    "                        an image says warm=\"yes\")\n"
    "      --keep-for TIME   how long kept guests stay before a plain 'clean' removes\n"
    "                        them: 90s, 30m, 4h, 2d (default 4h, at most 30d)\n"
    "\n"
    "Options of clean:\n"
    "      --list            list the kept cells, with their login commands; removes\n"
    "                        nothing\n"
    "      --kept            also remove kept cells whose time has not run out\n"
    "\n"
    "Options of run, clean and doctor:\n"
    "  -c, --connect URI     libvirt URI (doctor and clean: default qemu:///system)\n"
    "  -q, --quiet           doctor: only the verdict line\n"
    "\n"
    "Options of html:\n"
    "  -o, --output FILE     where the page goes (default: summary.html in the\n"
    "                        report's folder); it links the cells' files relative\n"
    "                        to where it is\n"
    "  -q, --quiet           do not print the page's path\n"
    "\n"
    "Options of init:\n"
    "  -o, --output FILE     where the matrix goes (a new file; default: stdout)\n"
    "  -q, --quiet           do not print what was guessed\n"
    "\n"
    "Progress goes to stderr: on a terminal, one live line per running cell under the\n"
    "run's news; elsewhere one timestamped line per event. The summary (a line per cell,\n"
    "the totals, and last 'report: PATH') goes to stdout.\n"
    "\n"
    "Exit codes: 0 every test passed; 1 a test failed; 2 usage or matrix error (nothing\n"
    "booted); 3 infrastructure error (a cell could not be run); 130/143 interrupted.\n"
    "compare and html: 0 done; 2 a report that cannot be read or is not matrixrun's.\n";

/* -C or $MATRIXRUN_CATALOGUE, when given: 0, or MR_EXIT_USAGE after saying why. */
static int load_catalogue(const struct mr_cli_opts *c)
{
    struct mr_err e = { 0 };
    const char *cat = c->catalogue ? c->catalogue : getenv("MATRIXRUN_CATALOGUE");
    if (cat && cat[0] && mr_family_catalogue_load(cat, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    return 0;
}

static int load(const struct mr_cli_opts *c, const char *path, struct mr_matrix **m)
{
    struct mr_err e = { 0 };
    int r = load_catalogue(c);
    if (r)
        return r;
    if (mr_matrix_load(path, m, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    for (size_t i = 0; i < (*m)->n_warnings; i++)
        fprintf(stderr, "matrixrun: warning: %s\n", (*m)->warnings[i]);
    return 0;
}

/* The cells --only and --shard select (all when neither was given). */
static int select_cells(const struct mr_cli_opts *c, const struct mr_matrix *m,
                        const struct mr_cell ***cells, size_t *n)
{
    struct mr_err e = { 0 };
    if (mr_matrix_select(m, c->only, c->n_only, c->shard_i, c->shard_n, cells, n, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    return 0;
}

static int selecting(const struct mr_cli_opts *c)
{
    return c->n_only > 0 || c->shard_n > 1;
}

static int cmd_validate(struct mr_cli_opts *c, char **args, size_t n_args)
{
    const char *path = args[0];
    (void)n_args;
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n;
    if ((r = select_cells(c, m, &cells, &n))) {
        mr_matrix_free(m);
        return r;
    }
    printf("%s: valid: %zu image(s), %zu cell(s)", path, m->n_images, m->n_cells);
    if (selecting(c))
        printf(" (%zu selected)", n);
    printf(", %zu test(s), package %s %s\n", m->n_tests, m->pkg_name, m->pkg_version);
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

static int cmd_list(struct mr_cli_opts *c, char **args, size_t n_args)
{
    const char *path = args[0];
    (void)n_args;
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n;
    if ((r = select_cells(c, m, &cells, &n))) {
        mr_matrix_free(m);
        return r;
    }
    /* The id stays the first field: scripts cut it out with cut -f1. */
    for (size_t i = 0; i < n; i++) {
        const struct mr_cell *cell = cells[i];
        const struct mr_image *img = cell->img;
_cleanup_free_ char *entry = mr_family_entry_name(img->fam, img->os_version);
                printf("%s\timage=%s\tfamily=%s\tversion=%s\tvcpus=%u\tmemory-mib=%u\tprovisioning=%s\tcatalogue=%s",
               cell->id, img->name, img->family, img->os_version ? img->os_version : "-",
               cell->vcpus, cell->memory_mib,
               img->login_key ? "login" : img->hostkey ? "cmdline" : "seed", entry);
        for (size_t j = 0; j < cell->n_env; j++)
            printf("\t%s=%s", cell->env[j].name, cell->env[j].value);
        putchar('\n');
    }
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

/* The kept cells of a run (or of every run when run_id is NULL), with the commands that
 * log into them; on stderr, so that stdout's last line stays the report's path. */
static size_t print_kept_to(FILE *out, const char *run_id)
{
    struct mr_kept *k;
    size_t n, shown = 0;
    if (mr_leftover_kept_list(mr_leftover_workbase(NULL), &k, &n) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (run_id && strcmp(k[i].run_id, run_id) != 0)
            continue;
        time_t until = (time_t)k[i].until;
        struct tm tm;
        char when[32];
        localtime_r(&until, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        _cleanup_free_ char *cmd = mr_kept_ssh_command(&k[i]);
        fprintf(out, "kept: %s of run %s until %s%s\n  %s\n  (or: matrixrun ssh %s %s)\n",
                k[i].cell, k[i].run_id, when,
                k[i].until <= mr_wall_ms() / 1000 ? " (expired: clean removes it)" : "", cmd,
                k[i].run_id, k[i].cell);
        shown++;
    }
    mr_kept_free(k, n);
    return shown;
}

static void print_kept(const char *run_id)
{
    if (print_kept_to(stderr, run_id))
        fprintf(stderr, "kept guests run until 'matrixrun clean --kept' (or, after their "
                        "time, 'matrixrun clean') removes them\n");
}

/* matrixrun ssh RUN CELL [COMMAND...]: logs into a kept cell with its run's key and the
 * pinned host key (no prompt, no trust on first use). */
static int cmd_ssh(struct mr_cli_opts *c, char **args, size_t n_args)
{
    (void)c;
    struct mr_kept *k;
    size_t n;
    if (mr_leftover_kept_list(mr_leftover_workbase(NULL), &k, &n) < 0)
        n = 0;
    size_t i;
    for (i = 0; i < n; i++)
        if (strcmp(k[i].run_id, args[0]) == 0 && strcmp(k[i].cell, args[1]) == 0)
            break;
    if (i == n) {
        fprintf(stderr, "matrixrun: ssh: no kept cell '%s' of run '%s' (see 'matrixrun clean "
                        "--list')\n", args[1], args[0]);
        mr_kept_free(k, n);
        return MR_EXIT_USAGE;
    }
    _cleanup_free_ char *port = mr_xasprintf("%d", k[i].port);
    _cleanup_free_ char *kh = mr_xasprintf("UserKnownHostsFile=%s", k[i].known_hosts);
    _cleanup_free_ char *dest = mr_xasprintf("%s@127.0.0.1", k[i].user);
    char **argv = mr_xcalloc(n_args + 16, sizeof(*argv));
    size_t a = 0;
    argv[a++] = "ssh";
    argv[a++] = "-i";
    argv[a++] = k[i].key;
    argv[a++] = "-p";
    argv[a++] = port;
    argv[a++] = "-o";
    argv[a++] = "IdentitiesOnly=yes";
    argv[a++] = "-o";
    argv[a++] = kh;
    argv[a++] = "-o";
    argv[a++] = "StrictHostKeyChecking=yes";
    argv[a++] = dest;
    for (size_t j = 2; j < n_args; j++)
        argv[a++] = args[j];
    argv[a] = NULL;
    fflush(stdout);
    execvp("ssh", argv);
    fprintf(stderr, "matrixrun: ssh: cannot run ssh: %s (package openssh-client)\n",
            strerror(errno));
    free(argv);
    mr_kept_free(k, n);
    return MR_EXIT_INFRA;
}

/* One host's leftovers: its guests and pool volumes (the work folders are this
 * machine's and go once, at the end). Returns 0, or negative with e set. */
static int clean_host(struct mr_cli_opts *c, const char *uri, const char *base,
                      struct mr_leftovers *dirs, size_t *n_doms, size_t *n_vols,
                      struct mr_err *e)
{
    virConnectPtr conn = mr_guest_connect(uri, e);
    if (!conn)
        return -EIO;
    struct mr_leftovers l = { 0 };
    int r = mr_leftover_scan(conn, base, c->kept ? MR_LEFTOVER_KEPT : 0, &l, e);
    if (r == 0) {
        for (size_t i = 0; i < l.n_domains; i++)
            if (!c->quiet)
                printf("destroying guest %s on %s\n", l.domains[i], uri);
        for (size_t i = 0; i < l.n_volumes; i++)
            if (!c->quiet)
                printf("deleting volume %s of pool %s on %s\n", l.volumes[i],
                       MR_REMOTE_STORE_POOL, uri);
        if (!c->quiet && l.n_foreign_domains)
            printf("leaving %zu guest(s) on %s alone: another machine started them\n",
                   l.n_foreign_domains, uri);
        if (!c->quiet && l.n_unknown_volumes)
            printf("leaving %zu volume(s) of pool %s on %s alone: their runs have no work "
                   "folder in %s (another machine's, or removed by hand)\n",
                   l.n_unknown_volumes, MR_REMOTE_STORE_POOL, uri, base);
        /* Folders last, once: a volume is judged by its run's folder. */
        if (!dirs->dirs) {
            dirs->dirs = l.dirs;
            dirs->n_dirs = l.n_dirs;
            l.dirs = NULL;
        }
        l.n_dirs = 0;
        *n_doms += l.n_domains;
        *n_vols += l.n_volumes;
        r = mr_leftover_remove(conn, &l, e);
    }
    mr_leftovers_release(&l);
    virConnectClose(conn);
    return r;
}

/* With a matrix: every host it names (or --connect's); without: --connect's or the
 * default URI. */
static int cmd_clean(struct mr_cli_opts *c, char **args, size_t n_args)
{
    const char *path = n_args ? args[0] : NULL;
    if (c->list) {
        /* Only what is kept: what else is left behind, clean itself says. */
        if (!print_kept_to(stdout, NULL))
            printf("no kept cells\n");
        return MR_EXIT_OK;
    }
    struct mr_matrix *m = NULL;
    if (path && !c->uri) {
        int r = load(c, path, &m);
        if (r)
            return r;
    }
    const char *base = mr_leftover_workbase(NULL);
    size_t n_hosts = m ? m->n_hosts : 1;
    struct mr_leftovers dirs = { 0 };
    size_t n_doms = 0, n_vols = 0;
    int first = 0;
    for (size_t i = 0; i < n_hosts; i++) {
        const char *uri = m ? m->hosts[i].uri : c->uri ? c->uri : MR_DEFAULT_URI;
        struct mr_err e = { 0 };
        int r = clean_host(c, uri, base, &dirs, &n_doms, &n_vols, &e);
        if (r < 0) {
            fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
            first = first ? first : r;
        }
        mr_err_release(&e);
    }
    /* Work folders go only when every host could be cleaned: a volume on a host that
     * could not be reached is found again next time by its run's folder. */
    if (first == 0) {
        for (size_t i = 0; i < dirs.n_dirs; i++)
            if (!c->quiet)
                printf("removing work folder %s\n", dirs.dirs[i]);
        struct mr_err e = { 0 };
        if (mr_leftover_remove(NULL, &dirs, &e) < 0) {
            fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
            first = -EIO;
        }
        mr_err_release(&e);
    } else if (dirs.n_dirs) {
        fprintf(stderr, "matrixrun: %zu work folder(s) kept: a host could not be cleaned\n",
                dirs.n_dirs);
    }
    if (!c->quiet)
        printf("clean: %zu guest(s), %zu pool volume(s) and %zu work folder(s) of earlier "
               "runs removed\n",
               n_doms, n_vols, first == 0 ? dirs.n_dirs : 0);
    if (!c->quiet && !c->kept) {
        struct mr_kept *k;
        size_t n, left = 0;
        if (mr_leftover_kept_list(base, &k, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                left += !k[i].locked;
            mr_kept_free(k, n);
        }
        if (left)
            printf("clean: %zu kept cell(s) left alone until their time runs out "
                   "(matrixrun clean --list; --kept removes them now)\n", left);
    }
    mr_leftovers_release(&dirs);
    mr_matrix_free(m);
    return first < 0 ? MR_EXIT_INFRA : MR_EXIT_OK;
}

static int cmd_doctor(struct mr_cli_opts *c, char **args, size_t n_args)
{
    (void)args;
    (void)n_args;
    struct mr_doctor *d = mr_doctor_new(c->uri ? c->uri : MR_DEFAULT_URI);
    for (size_t i = 0; i < d->n_checks && !c->quiet; i++) {
        const struct mr_doctor_check *k = &d->checks[i];
        printf("%-4s  %s: %s\n", mr_doctor_level_name(k->level), k->name, k->finding);
        if (k->fix)
            printf("      fix: %s\n", k->fix);
    }
    _cleanup_free_ char *verdict = mr_doctor_verdict_text(d);
    printf("verdict: %s\n", verdict);
    int code = d->verdict == MR_DOCTOR_VERDICT_NONE ? MR_EXIT_INFRA : MR_EXIT_OK;
    mr_doctor_free(d);
    return code;
}

static void on_signal(int sig)
{
    mr_interrupted = sig;
}

/* The first line of text, at most max columns. */
static void add_first_line(struct mr_buf *b, const char *text, size_t max)
{
    _cleanup_free_ char *first = mr_xstrndup(text, strcspn(text, "\n"));
    mr_buf_add_cols(b, first, max);
}

/* One line per cell (its counts, time and first failure or error), the totals, and
 * last the report's path (scripts read that line). */
static void print_summary(const struct mr_run_result *res)
{
    const struct mr_report *r = res->report;
    int w = 4;
    for (size_t i = 0; i < r->n_suites; i++) {
        int n = (int)mr_text_cols(r->suites[i]->name);
        w = n > w ? n : w;
    }
    if (r->n_suites)
        printf("%-*s  %6s %6s %6s %7s %8s  %s\n", w, "cell", "passed", "failed", "errors",
               "skipped", "time", "first problem");
    for (size_t i = 0; i < r->n_suites; i++) {
        const struct mr_suite *s = r->suites[i];
        struct mr_counts n = mr_suite_counts(s);
        struct mr_buf problem;
        mr_buf_init(&problem);
        for (size_t j = 0; j < s->n_cases; j++) {
            const struct mr_case *c = s->cases[j];
            if (c->verdict != MR_VERDICT_FAIL && c->verdict != MR_VERDICT_ERROR)
                continue;
            const char *msg = c->message ? c->message : "";
            size_t nl = strlen(c->name);
            /* Error messages name their step already ("boot: ..."). */
            if (strncmp(msg, c->name, nl) != 0 || msg[nl] != ':')
                mr_buf_addf(&problem, "%s: ", c->name);
            /* Cut at a fixed length, not to a terminal's width: past the counts an
             * 80-column terminal leaves too little of it to be worth reading, and a
             * line that wraps once at the end of a run does no harm. */
            add_first_line(&problem, msg, 100);
            break;
        }
        printf("%-*s  %6zu %6zu %6zu %7zu %6.1f s  %s\n", w, s->name,
               n.tests - n.failures - n.errors - n.skipped, n.failures, n.errors, n.skipped,
               s->time_s, problem.len ? problem.data : "-");
        mr_buf_release(&problem);
    }
    struct mr_counts n = mr_report_counts(r);
    printf("%zu cell(s), %zu testcase(s): %zu passed, %zu failed, %zu error(s), %zu skipped\n"
           "report: %s\n",
           r->n_suites, n.tests, n.tests - n.failures - n.errors - n.skipped, n.failures,
           n.errors, n.skipped, res->junit_path);
}

static int cmd_run(struct mr_cli_opts *c, char **args, size_t n_args)
{
    const char *path = args[0];
    (void)n_args;
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n_cells;
    if ((r = select_cells(c, m, &cells, &n_cells))) {
        mr_matrix_free(m);
        return r;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed SSH socket must be an error return, not a dead process. */
    signal(SIGPIPE, SIG_IGN);

    struct mr_progress *p = mr_progress_new(c->quiet);
    struct mr_run_opts o = {
        .outdir = c->outdir ? c->outdir : "reports", .accel = c->accel, .uri = c->uri,
        .cells = cells, .n_cells = n_cells, .jobs = c->jobs,
        .overcommit_cpu = c->overcommit_cpu, .overcommit_mem = c->overcommit_mem,
        .stagger_ms = c->stagger_ms, .keep = (enum mr_keep)c->keep,
        .network = c->network >= 0 ? c->network + 1 : 0, .boot = (enum mr_boot)c->boot,
        .keep_for_s = c->keep_for_s ? c->keep_for_s : MR_DEFAULT_KEEP_FOR_S,
        .progress = mr_progress_event, .progress_ud = p,
    };
    struct mr_run_result res;
    struct mr_err e = { 0 };
    r = mr_pipeline_run(m, &o, &res, &e);
    mr_progress_free(p);
    mr_matrix_free(m);
    if (r < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        mr_run_result_release(&res);
        return r == -EINVAL ? MR_EXIT_USAGE : MR_EXIT_INFRA;
    }
    if (res.html_warning.msg)
        fprintf(stderr, "matrixrun: warning: no HTML summary: %s\n", mr_err_msg(&res.html_warning));
    if (!c->quiet)
        print_summary(&res);
    if (c->keep)
        print_kept(res.run_id);
    int code = mr_pipeline_exit_code(res.report);
    if (res.interrupted)
        code = 128 + (int)mr_interrupted;
    mr_run_result_release(&res);
    return code;
}

/* Reads every report first, so a bad file is exit 2 before anything is printed. */
static int cmd_compare(struct mr_cli_opts *c, char **args, size_t n_args)
{
    (void)c;
    struct mr_report **reps = mr_xcalloc(n_args, sizeof(*reps));
    int code = MR_EXIT_OK;
    for (size_t i = 0; i < n_args && code == MR_EXIT_OK; i++) {
        struct mr_err e = { 0 };
        if (mr_report_read(args[i], &reps[i], &e) < 0) {
            fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
            code = MR_EXIT_USAGE;
        } else if (!mr_report_is_matrixrun(reps[i])) {
            fprintf(stderr, "matrixrun: %s: not a matrixrun report (no suite has a run.id "
                    "property)\n", args[i]);
            code = MR_EXIT_USAGE;
        }
        mr_err_release(&e);
    }
    if (code == MR_EXIT_OK) {
        struct mr_compare *cmp =
            mr_compare_new((const struct mr_report *const *)reps, (const char *const *)args,
                           n_args);
        _cleanup_free_ char *text = mr_compare_render(cmp);
        fputs(text, stdout);
        mr_compare_free(cmp);
    }
    for (size_t i = 0; i < n_args; i++)
        mr_report_free(reps[i]);
    free(reps);
    return code;
}

static int cmd_init(struct mr_cli_opts *c, char **args, size_t n_args)
{
    int r = load_catalogue(c);
    if (r)
        return r;
    struct mr_err e = { 0 };
    _cleanup_free_ char *notes = NULL;
    if (mr_init_write(args, n_args, c->outdir, &notes, &e) < 0) {
        fprintf(stderr, "matrixrun: init: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    if (!c->quiet) {
        /* On stderr: stdout may be the matrix itself. */
        for (char *line = strtok(notes, "\n"); line; line = strtok(NULL, "\n"))
            fprintf(stderr, "matrixrun: init: %s\n", line);
        if (c->outdir)
            fprintf(stderr, "matrixrun: init: wrote %s; next: matrixrun validate %s\n",
                    c->outdir, c->outdir);
    }
    return MR_EXIT_OK;
}

static int cmd_html(struct mr_cli_opts *c, char **args, size_t n_args)
{
    (void)n_args;
    const char *junit = args[0];
    _cleanup_free_ char *dir = mr_path_dirname(junit);
    _cleanup_free_ char *def = mr_xasprintf("%s/summary.html", dir);
    const char *out = c->outdir ? c->outdir : def;
    struct mr_err e = { 0 };
    if (mr_html_write(junit, out, &e) < 0) {
        /* A bad report or an unwritable -o are both the caller's arguments. */
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    if (!c->quiet)
        printf("summary: %s\n", out);
    return MR_EXIT_OK;
}

struct verb {
    const char *name;
    int (*fn)(struct mr_cli_opts *c, char **args, size_t n_args);
    size_t min_args, max_args; /* positional arguments after the verb */
    const char *arg_name;      /* for "'VERB' needs ARG_NAME" */
};

static const struct verb verbs[] = {
    { "run", cmd_run, 1, 1, "a matrix file" },
    { "validate", cmd_validate, 1, 1, "a matrix file" },
    { "list", cmd_list, 1, 1, "a matrix file" },
    { "clean", cmd_clean, 0, 1, NULL },
    { "doctor", cmd_doctor, 0, 0, NULL },
    { "compare", cmd_compare, 1, SIZE_MAX, "one or more report files" },
    { "html", cmd_html, 1, 1, "a JUnit report file" },
    { "init", cmd_init, 2, SIZE_MAX, "image files and package files" },
    { "ssh", cmd_ssh, 2, SIZE_MAX, "a run id and a kept cell" },
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "matrixrun: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'matrixrun --help'.\n");
    return MR_EXIT_USAGE;
}

/* Option values are parsed strictly: strtoul and strtod alone take " -1", "1x", "0x10",
 * "inf" and "nan" as far as they go, and a CI variable gone wrong should stop the run. */

/* A whole number of decimal digits and nothing else, at most max. */
static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
    if (!*s || s[strspn(s, "0123456789")] != '\0')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, NULL, 10);
    if (errno || v > max)
        return -ERANGE;
    *ret = (unsigned)v;
    return 0;
}

/* Digits with at most one decimal point ("2", "0.8", ".5"): the first len bytes of s. */
static int parse_decimal(const char *s, size_t len, double *ret)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t end = strspn(buf, "0123456789");
    if (buf[end] == '.')
        end += 1 + strspn(buf + end + 1, "0123456789");
    if (end != len || strcspn(buf, "0123456789") == len)
        return -EINVAL;
    /* No setlocale() anywhere: strtod reads '.' as the decimal point. */
    *ret = strtod(buf, NULL);
    return 0;
}

static int parse_shard(const char *s, unsigned *ret_i, unsigned *ret_n)
{
    const char *slash = strchr(s, '/');
    size_t ilen = slash ? (size_t)(slash - s) : 0;
    unsigned i = 0, n = 0;
    int ri = -EINVAL, rn = -EINVAL;
    if (ilen > 0 && strspn(s, "0123456789") == ilen) {
        _cleanup_free_ char *is = mr_xstrndup(s, ilen);
        ri = parse_uint(is, 1000, &i);
        rn = parse_uint(slash + 1, 1000, &n);
    }
    if (ri == -EINVAL || rn == -EINVAL)
        return usage_error("--shard '%s': expected I/N, two whole numbers as in 2/4", s);
    if (rn < 0 || n < 1)
        return usage_error("--shard '%s': N must be between 1 and 1000", s);
    if (ri < 0 || i < 1 || i > n)
        return usage_error("--shard '%s': I must be between 1 and N", s);
    *ret_i = i;
    *ret_n = n;
    return 0;
}

/* A ratio of the host: above 0 (0 would admit nothing), at most 64 (past that a typo). */
static int parse_ratio(const char *s, size_t len, double *ret)
{
    double v;
    if (parse_decimal(s, len, &v) < 0 || v <= 0 || v > 64)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_overcommit(const char *s, double *ret_cpu, double *ret_mem)
{
    const char *colon = strchr(s, ':');
    double cpu, mem = 0;
    if (parse_ratio(s, colon ? (size_t)(colon - s) : strlen(s), &cpu) < 0 ||
        (colon && parse_ratio(colon + 1, strlen(colon + 1), &mem) < 0))
        return usage_error("--overcommit '%s': expected CPU or CPU:MEM, ratios above 0 and "
                           "at most 64 (as in 2 or 2:0.8)", s);
    *ret_cpu = cpu;
    *ret_mem = mem;
    return 0;
}

enum {
    OPT_ACCEL = 256,
    OPT_CONNECT,
    OPT_ONLY,
    OPT_SHARD,
    OPT_OVERCOMMIT,
    OPT_STAGGER,
    OPT_KEEP_FAILED,
    OPT_KEEP,
    OPT_KEEP_FOR,
    OPT_LIST,
    OPT_KEPT,
    OPT_NETWORK,
    OPT_WARM,
    OPT_COLD,
};

/* A duration as N, Ns, Nm, Nh or Nd, 1 s to 30 days; -1 if not. */
static long parse_duration(const char *s)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (end == s || errno || n <= 0 || s[0] == '+' || s[0] == ' ')
        return -1;
    long mult = 1;
    if (*end == 'm')
        mult = 60;
    else if (*end == 'h')
        mult = 3600;
    else if (*end == 'd')
        mult = 86400;
    else if (*end && *end != 's')
        return -1;
    if (*end && end[1])
        return -1;
    if (n > 30L * 86400 / mult)
        return -1;
    return n * mult;
}

/* One option getopt_long returned (typed_long: given in its long form). Returns
 * MR_CLI_CONTINUE, or the exit code after --help, --version or a bad value. */
static int parse_option(int opt, int typed_long, struct mr_cli_opts *c)
{
    switch (opt) {
    case 'o':
        c->outdir = optarg;
        break;
    case OPT_ACCEL: {
        enum mr_accel a;
        if (mr_accel_parse(optarg, &a) < 0)
            return usage_error("--accel '%s' is not one of: kvm, tcg, auto", optarg);
        c->accel = (int)a;
        break;
    }
    case 'c':
    case OPT_CONNECT:
        c->uri = optarg;
        break;
    case 'q':
        c->quiet = 1;
        break;
    case 'C':
        c->catalogue = optarg;
        break;
    case OPT_ONLY:
        c->only[c->n_only++] = optarg;
        break;
    case OPT_SHARD:
        if (parse_shard(optarg, &c->shard_i, &c->shard_n))
            return MR_EXIT_USAGE;
        break;
    case 'j':
        if (parse_uint(optarg, 256, &c->jobs) < 0 || c->jobs < 1)
            return usage_error(typed_long ? "--jobs '%s': expected a whole number from 1 to 256"
                                          : "-j '%s': expected a whole number from 1 to 256",
                               optarg);
        break;
    case OPT_OVERCOMMIT:
        if (parse_overcommit(optarg, &c->overcommit_cpu, &c->overcommit_mem))
            return MR_EXIT_USAGE;
        break;
    case OPT_STAGGER: {
        double secs;
        if (parse_decimal(optarg, strlen(optarg), &secs) < 0 || secs > 60)
            return usage_error("--stagger '%s': expected seconds from 0 to 60 (decimals "
                               "allowed, as in 0.5)", optarg);
        c->stagger_ms = (int)(secs * 1000 + 0.5);
        break;
    }
    case OPT_KEEP_FAILED:
        if (c->keep < MR_KEEP_FAILED)
            c->keep = MR_KEEP_FAILED;
        break;
    case OPT_KEEP:
        c->keep = MR_KEEP_ALL;
        break;
    case OPT_KEEP_FOR:
        if ((c->keep_for_s = parse_duration(optarg)) < 0)
            return usage_error("--keep-for '%s': expected a time from 1 s to 30 days, as in "
                               "90s, 30m, 4h or 2d", optarg);
        break;
    case OPT_LIST:
        c->list = 1;
        break;
    case OPT_KEPT:
        c->kept = 1;
        break;
    case OPT_NETWORK: {
        enum mr_network n;
        if (mr_network_parse(optarg, &n) < 0)
            return usage_error("--network '%s' is not one of: isolated, outbound", optarg);
        c->network = (int)n;
        break;
    }
    case OPT_WARM:
    case OPT_COLD:
        if (c->boot && c->boot != (opt == OPT_WARM ? MR_BOOT_WARM : MR_BOOT_COLD))
            return usage_error("%s and --cold exclude each other", "--warm");
        c->boot = opt == OPT_WARM ? MR_BOOT_WARM : MR_BOOT_COLD;
        break;
    case 'h':
        printf(usage_text, MR_DEFAULT_OVERCOMMIT_CPU, MR_DEFAULT_OVERCOMMIT_MEM,
               MR_DEFAULT_STAGGER_MS / 1000.0);
        return MR_EXIT_OK;
    case 'V':
        printf("matrixrun %s\n", MR_VERSION);
        return MR_EXIT_OK;
    default:
        fprintf(stderr, "Try 'matrixrun --help'.\n");
        return MR_EXIT_USAGE;
    }
    return MR_CLI_CONTINUE;
}

void mr_cli_opts_release(struct mr_cli_opts *o)
{
    free(o->only);
    o->only = NULL;
    o->n_only = 0;
}

int mr_cli_parse(int argc, char **argv, struct mr_cli_opts *ret, int *ret_words)
{
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "accel", required_argument, NULL, OPT_ACCEL },
        { "connect", required_argument, NULL, OPT_CONNECT },
        { "quiet", no_argument, NULL, 'q' },
        { "catalogue", required_argument, NULL, 'C' },
        { "only", required_argument, NULL, OPT_ONLY },
        { "shard", required_argument, NULL, OPT_SHARD },
        { "jobs", required_argument, NULL, 'j' },
        { "overcommit", required_argument, NULL, OPT_OVERCOMMIT },
        { "stagger", required_argument, NULL, OPT_STAGGER },
        { "keep-failed", no_argument, NULL, OPT_KEEP_FAILED },
        { "keep", no_argument, NULL, OPT_KEEP },
        { "keep-for", required_argument, NULL, OPT_KEEP_FOR },
        { "list", no_argument, NULL, OPT_LIST },
        { "kept", no_argument, NULL, OPT_KEPT },
        { "network", required_argument, NULL, OPT_NETWORK },
        { "warm", no_argument, NULL, OPT_WARM },
        { "cold", no_argument, NULL, OPT_COLD },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    struct mr_cli_opts c = {
        .accel = -1, .only = mr_xcalloc((size_t)argc + 1, sizeof(*c.only)), .stagger_ms = -1,
        .network = -1,
    };
    int opt, idx = -1;
    /* 0, not 1: GNU getopt starts afresh, so a second call parses its own argv. */
    optind = 0;
    /* GNU getopt permutes: options may stand before or after the verb and the matrix. */
    while ((opt = getopt_long(argc, argv, "o:qhVC:j:c:", opts, &idx)) != -1) {
        /* getopt_long sets idx for long options only: messages name the option as typed. */
        int typed_long = idx >= 0;
        idx = -1;
        int r = parse_option(opt, typed_long, &c);
        if (r != MR_CLI_CONTINUE) {
            mr_cli_opts_release(&c);
            return r;
        }
    }
    *ret = c;
    *ret_words = optind;
    return MR_CLI_CONTINUE;
}

/* Finds the verb among the positional words (run when the first word is none) and
 * checks its number of arguments before calling it. */
static int dispatch(struct mr_cli_opts *c, char **words, size_t nwords)
{
    if (nwords == 0)
        return usage_error("%s", "no matrix given");
    const struct verb *v = NULL;
    for (size_t i = 0; i < MR_ARRAY_SIZE(verbs); i++)
        if (strcmp(words[0], verbs[i].name) == 0)
            v = &verbs[i];
    if (v) {
        words++;
        nwords--;
    } else if (nwords > 1) {
        return usage_error("unknown verb '%s'", words[0]);
    } else {
        v = &verbs[0]; /* matrixrun MATRIX.xml: run is the default verb */
    }
    if (nwords < v->min_args) {
        fprintf(stderr, "matrixrun: '%s' needs %s\nTry 'matrixrun --help'.\n", v->name,
                v->arg_name);
        return MR_EXIT_USAGE;
    }
    if (nwords > v->max_args)
        return usage_error("unexpected argument '%s'", words[v->max_args]);
    return v->fn(c, words, nwords);
}

int mr_cli_main(int argc, char **argv)
{
    struct mr_cli_opts c;
    int first;
    int r = mr_cli_parse(argc, argv, &c, &first);
    if (r != MR_CLI_CONTINUE)
        return r;
    /* getopt_long has moved the positional words to the end, in their order. */
    r = dispatch(&c, argv + first, (size_t)(argc - first));
    mr_cli_opts_release(&c);
    return r;
}
