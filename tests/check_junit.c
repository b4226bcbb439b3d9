/* check_junit.c: the JUnit writer: cleaning of hostile text, schema validity, verdict
 * elements, golden output and atomic writes. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>

#include "junit.h"

/* Validates xml against the Jenkins JUnit schema; returns the number of errors. */
static int schema_errors(const char *xml, size_t len)
{
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(MR_JUNIT_XSD);
    ck_assert_ptr_nonnull(pc);
    xmlSchemaPtr schema = xmlSchemaParse(pc);
    ck_assert_ptr_nonnull(schema);
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "junit.xml", NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    int r = doc ? xmlSchemaValidateDoc(vc, doc) : 1;
    if (doc)
        xmlFreeDoc(doc);
    xmlSchemaFreeValidCtxt(vc);
    xmlSchemaFree(schema);
    xmlSchemaFreeParserCtxt(pc);
    return r;
}

static char *xpath_str(const char *xml, size_t len, const char *expr)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)len, "junit.xml", NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    ck_assert_ptr_nonnull(doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    ck_assert_ptr_nonnull(o);
    xmlChar *s = xmlXPathCastToString(o);
    char *ret = strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return ret;
}

START_TEST(test_clean_keeps_valid_utf8)
{
    const char *in = "plain \t\n\r text, caf\xc3\xa9, \xe2\x82\xac, \xf0\x9f\x98\x80";
    char *out = mr_xml_clean(in, strlen(in));
    ck_assert_str_eq(out, in);
    free(out);
}
END_TEST

START_TEST(test_clean_escapes_forbidden_characters)
{
    const char in[] = "a\x01" "b\x1b[31mc\x7f" "d\0e";
    char *out = mr_xml_clean(in, sizeof(in) - 1);
    /* DEL (0x7f) is allowed by XML 1.0, NUL and other C0 controls are not. */
    ck_assert_str_eq(out, "a\\x01b\\x1b[31mc\x7f" "d\\x00e");
    free(out);
}
END_TEST

START_TEST(test_clean_replaces_invalid_utf8)
{
    /* Lone continuation, overlong '/', truncated sequence, UTF-8 surrogate, U+FFFE. */
    const char in[] = "\x80|\xc0\xaf|\xe2\x82|\xed\xa0\x80|\xef\xbf\xbe";
    char *out = mr_xml_clean(in, sizeof(in) - 1);
    ck_assert_str_eq(out, "\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                          "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\\ufffe");
    free(out);
}
END_TEST

static struct mr_report *sample_report(void)
{
    struct mr_report *r = mr_report_new("sample");
    struct mr_suite *s = mr_report_add_suite(r, "cell-a");
    s->timestamp_ms = 1790000000000;
    s->time_s = 12.5;
    s->hostname = strdup("host1");
    mr_suite_set_prop(s, "image", "cell-a");
    mr_suite_set_prop(s, "accel", "tcg");
    mr_suite_set_prop(s, "guest.kernel", "6.1.0-x-amd64");
    struct mr_case *c = mr_suite_add_case(s, "sample.cell-a", "boot");
    c->time_s = 9.25;
    mr_case_set_out(c, "ssh ready\n", 10);
    c = mr_suite_add_case(s, "sample.cell-a", "install");
    c->time_s = 1;
    c = mr_suite_add_case(s, "sample.cell-a", "passes");
    c = mr_suite_add_case(s, "sample.cell-a", "fails");
    mr_case_set(c, MR_VERDICT_FAIL, "exit-status", "'false' exited with status %d", 1);
    mr_case_set_err(c, "oops\n", 5);
    struct mr_suite *s2 = mr_report_add_suite(r, "cell-b");
    s2->timestamp_ms = 1790000000000;
    c = mr_suite_add_case(s2, "sample.cell-b", "boot");
    mr_case_set(c, MR_VERDICT_ERROR, "timeout", "boot: no SSH within %d s", 5);
    c = mr_suite_add_case(s2, "sample.cell-b", "install");
    mr_case_set(c, MR_VERDICT_SKIP, NULL, "not run: %s", "boot failed");
    return r;
}

START_TEST(test_junit_matches_golden_file)
{
    struct mr_report *r = sample_report();
    size_t len;
    char *xml = mr_junit_render(r, &len);
    const char *golden = MR_TEST_DATA "/junit/sample.xml";
    if (getenv("MR_TEST_REGENERATE_OUTPUT")) {
        FILE *f = fopen(golden, "w");
        fwrite(xml, 1, len, f);
        fclose(f);
    }
    char *want = NULL;
    size_t wlen = 0;
    ck_assert_int_eq(mr_file_read(golden, &want, &wlen), 0);
    ck_assert_str_eq(xml, want);
    ck_assert_int_eq(schema_errors(xml, len), 0);
    free(want);
    free(xml);
    mr_report_free(r);
}
END_TEST

START_TEST(test_junit_verdict_elements_and_counts)
{
    struct mr_report *r = sample_report();
    size_t len;
    char *xml = mr_junit_render(r, &len);
    struct { const char *expr, *want; } q[] = {
        { "string(/testsuites/@tests)", "6" },
        { "string(/testsuites/@failures)", "1" },
        { "string(/testsuites/@errors)", "1" },
        { "string(//testsuite[@name='cell-a']/@skipped)", "0" },
        { "string(//testsuite[@name='cell-b']/@skipped)", "1" },
        { "count(//testcase[@name='passes']/*)", "0" },
        { "string(//testcase[@name='fails']/failure/@type)", "exit-status" },
        { "string(//testcase[@name='fails']/failure/@message)", "'false' exited with status 1" },
        { "string(//testcase[@name='fails']/system-err)", "oops\n" },
        { "string(//testsuite[@name='cell-b']/testcase[@name='boot']/error/@type)", "timeout" },
        { "string(//testsuite[@name='cell-b']/testcase[@name='install']/skipped)",
          "not run: boot failed" },
        { "string(//testsuite[@name='cell-a']/properties/property[@name='guest.kernel']/@value)",
          "6.1.0-x-amd64" },
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        char *got = xpath_str(xml, len, q[i].expr);
        ck_assert_msg(strcmp(got, q[i].want) == 0, "%s: got '%s', want '%s'", q[i].expr, got,
                      q[i].want);
        free(got);
    }
    free(xml);
    mr_report_free(r);
}
END_TEST

START_TEST(test_junit_survives_hostile_output)
{
    struct mr_report *r = mr_report_new("hostile\x01name");
    struct mr_suite *s = mr_report_add_suite(r, "cell\x1b");
    mr_suite_set_prop(s, "guest.kernel", "bad\xff\xfe value");
    struct mr_case *c = mr_suite_add_case(s, "x", "hostile");
    /* Megabytes of text laced with everything XML consumers choke on. */
    struct mr_buf b;
    mr_buf_init(&b);
    static const char nasty[] = "ok ]]> <tag> &amp; \x00\x01\x08\x0b\x0c\x1b[0m \xc3\x28 "
                                "\xed\xa0\x80 \xf4\x90\x80\x80 \xef\xbf\xbf \xe2\x82\xac\n";
    while (b.len < 3 * 1024 * 1024)
        mr_buf_add(&b, nasty, sizeof(nasty) - 1);
    mr_case_set_out(c, b.data, b.len);
    mr_case_set_err(c, b.data, 4096);
    mr_case_set(c, MR_VERDICT_FAIL, "exit-status", "message with \x02 and ]]> and \xff");
    size_t len;
    char *xml = mr_junit_render(r, &len);
    ck_assert_ptr_nonnull(xml);
    ck_assert_uint_gt(len, 3 * 1024 * 1024);
    ck_assert_int_eq(schema_errors(xml, len), 0);
    /* The text survives, escaped rather than dropped. */
    char *out = xpath_str(xml, len, "substring(//testcase/system-out, 1, 20)");
    ck_assert_str_eq(out, "ok ]]> <tag> &amp; \\");
    free(out);
    free(xml);
    mr_buf_release(&b);
    mr_report_free(r);
}
END_TEST

/* 4 MiB of NUL bytes clean to 16 MiB of "\x00": the text stops at MR_JUNIT_TEXT_MAX with
 * a note, so that readers without libxml2's HUGE option (xmllint, lxml) take the file. */
START_TEST(test_junit_text_stays_within_xml_readers_limit)
{
    struct mr_report *r = mr_report_new("nul");
    struct mr_suite *s = mr_report_add_suite(r, "cell");
    struct mr_case *c = mr_suite_add_case(s, "x", "nul-flood");
    size_t n = 4 * 1024 * 1024;
    char *nuls = mr_xcalloc(n, 1);
    mr_case_set_out(c, nuls, n);
    free(nuls);
    char dir[] = "/tmp/mr-junit-nul-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256], cmd[320];
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(r, path, &e), 0);
    /* xmllint as CI scripts run it (libxml2-utils): "huge text node" past 10 MB. */
    snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", path);
    ck_assert_msg(system(cmd) == 0, "xmllint refuses the report");
    unlink(path);
    rmdir(dir);
    size_t len;
    char *xml = mr_junit_render(r, &len);
    ck_assert_ptr_nonnull(xml);
    char *tail = xpath_str(xml, len, "substring-after(//system-out, '[matrixrun: stdout cut here')");
    ck_assert_ptr_nonnull(strstr(tail, "4194304 bytes would pass 8000000"));
    free(tail);
    free(xml);
    mr_report_free(r);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

START_TEST(test_junit_write_is_atomic)
{
    char dir[] = "/tmp/mr-junit-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    struct mr_report *r = sample_report();
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(r, path, &e), 0);
    ck_assert_int_eq(count_entries(dir), 1); /* no temp file left */
    char *first;
    size_t len;
    ck_assert_int_eq(mr_file_read(path, &first, &len), 0);
    ck_assert_int_eq(schema_errors(first, len), 0);
    /* A write that cannot complete leaves the previous report whole: make the folder
     * unwritable so the temp file cannot be created (root ignores modes, so use a path
     * whose parent is a file instead). */
    char bad[300];
    snprintf(bad, sizeof(bad), "%s/junit.xml/inner.xml", dir);
    ck_assert_int_lt(mr_junit_write(r, bad, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "inner.xml"));
    char *again;
    ck_assert_int_eq(mr_file_read(path, &again, &len), 0);
    ck_assert_str_eq(first, again);
    ck_assert_int_eq(count_entries(dir), 1);
    free(first);
    free(again);
    mr_err_release(&e);
    mr_report_free(r);
    unlink(path);
    rmdir(dir);
}
END_TEST

/* Output past MR_SPILL_MIN goes to the run's spill file, not memory, and comes back whole
 * into junit.xml: multi-byte characters cut by the writer's 64 KiB chunks stay whole. */
START_TEST(test_junit_spilled_output_written_whole)
{
    char dir[] = "/tmp/mr-spill-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct mr_report *r = mr_report_new("spill");
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_report_spill_to(r, dir, &e), 0);
    ck_assert_int_eq(count_entries(dir), 0); /* unlinked: nobody can open it */
    /* A cell's report shares the run's file, as the pipeline's per-cell reports do. */
    struct mr_report *cell = mr_report_new("spill");
    mr_report_share_spill(cell, r);
    struct mr_suite *s = mr_report_add_suite(cell, "cell");
    struct mr_case *c = mr_suite_add_case(s, "x", "big");
    /* "ab", then 3-byte characters: 65536 - 2 is no multiple of 3, so one is cut by every
     * chunk's end; an invalid byte at the end must still become one U+FFFD. */
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_adds(&b, "ab");
    const size_t n_euro = 70000;
    for (size_t i = 0; i < n_euro; i++)
        mr_buf_adds(&b, "\xe2\x82\xac");
    mr_buf_adds(&b, "\xff" "end");
    mr_case_set_out(c, b.data, b.len);
    mr_case_set_err(c, "short", 5);
    ck_assert(mr_case_text_spilled(c, 0));
    ck_assert_ptr_null(c->out); /* nothing of it left in memory */
    ck_assert(!mr_case_text_spilled(c, 1));
    ck_assert_str_eq(c->err, "short");
    char head[8];
    ck_assert_int_eq(mr_case_read_text(c, 0, 0, head, 5), 5);
    ck_assert_int_eq(memcmp(head, "ab\xe2\x82\xac", 5), 0);
    mr_report_move_suites(r, cell);
    mr_report_free(cell); /* the file stays open for r */

    char path[256];
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    ck_assert_int_eq(mr_junit_write(r, path, &e), 0);
    char *xml;
    size_t len;
    ck_assert_int_eq(mr_file_read(path, &xml, &len), 0);
    ck_assert_int_eq(schema_errors(xml, len), 0);
    char *got = xpath_str(xml, len, "string-length(//testcase[@name='big']/system-out)");
    char want[32];
    snprintf(want, sizeof(want), "%zu", 2 + n_euro + 1 + 3);
    ck_assert_str_eq(got, want);
    free(got);
    /* The only U+FFFD is the invalid byte's, right before "end". */
    got = xpath_str(xml, len, "substring-after(//testcase[@name='big']/system-out, '\xef\xbf\xbd')");
    ck_assert_str_eq(got, "end");
    free(got);
    got = xpath_str(xml, len, "string(//testcase[@name='big']/system-err)");
    ck_assert_str_eq(got, "short");
    free(got);
    free(xml);
    mr_buf_release(&b);
    mr_err_release(&e);
    mr_report_free(r);
    unlink(path);
    ck_assert_int_eq(rmdir(dir), 0); /* the spill file took no name in the folder */
}
END_TEST

/* A write that fails half-way (the disk fills: here the file size limit, whose EFBIG
 * takes the same path as ENOSPC) says why, names the file, and leaves the previous
 * junit.xml whole and no temp file behind. */
START_TEST(test_junit_write_reports_a_full_disk)
{
    char dir[] = "/tmp/mr-junit-full-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof(path), "%s/junit.xml", dir);
    struct mr_report *r = sample_report();
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(r, path, &e), 0);
    char *before;
    size_t len;
    ck_assert_int_eq(mr_file_read(path, &before, &len), 0);
    struct mr_case *c = mr_suite_add_case(r->suites[0], "x", "big");
    struct mr_buf b;
    mr_buf_init(&b);
    while (b.len < 1024 * 1024)
        mr_buf_adds(&b, "0123456789abcdef");
    mr_case_set_out(c, b.data, b.len);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit lim = { 256 * 1024, 256 * 1024 };
        setrlimit(RLIMIT_FSIZE, &lim);
        int ret = mr_junit_write(r, path, &e);
        int ok = ret == -EFBIG && strstr(mr_err_msg(&e), path) &&
                 strstr(mr_err_msg(&e), strerror(EFBIG));
        if (!ok)
            fprintf(stderr, "mr_junit_write: %d: %s\n", ret, mr_err_msg(&e));
        _exit(ok ? 0 : 1);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    char *after;
    ck_assert_int_eq(mr_file_read(path, &after, &len), 0);
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(count_entries(dir), 1);
    free(before);
    free(after);
    mr_buf_release(&b);
    mr_err_release(&e);
    mr_report_free(r);
    unlink(path);
    rmdir(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("junit");
    TCase *tc = tcase_create("clean");
    tcase_add_test(tc, test_clean_keeps_valid_utf8);
    tcase_add_test(tc, test_clean_escapes_forbidden_characters);
    tcase_add_test(tc, test_clean_replaces_invalid_utf8);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("render");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, test_junit_matches_golden_file);
    tcase_add_test(tr, test_junit_verdict_elements_and_counts);
    tcase_add_test(tr, test_junit_survives_hostile_output);
    tcase_add_test(tr, test_junit_write_is_atomic);
    tcase_add_test(tr, test_junit_spilled_output_written_whole);
    tcase_add_test(tr, test_junit_write_reports_a_full_disk);
    tcase_add_test(tr, test_junit_text_stays_within_xml_readers_limit);
    suite_add_tcase(s, tr);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
