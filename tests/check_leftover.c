/* check_leftover.c: the run's work folder (made in a base only we control, locked before
 * it has its name) and the leftover scan's view of it, in a temporary base. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "leftover.h"

#define RUN_ID "20990101-000000-abcd"

static char top[64];

/* A private temporary folder for each test (Check forks one process per test). */
static void setup(void)
{
    strcpy(top, "/tmp/mr-leftover-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
}

static void teardown(void)
{
    (void)mr_rm_rf(top);
}

static char *in_top(const char *name)
{
    return mr_xasprintf("%s/%s", top, name);
}

/* Refused with -errno want and a message holding needle; nothing made in the base. */
static void assert_refused(const char *base, int want, const char *needle)
{
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    int r = mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e);
    ck_assert_msg(r == want, "got %d (%s), want %d", r, mr_err_msg(&e), want);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(fd, -1);
    ck_assert_msg(strstr(mr_err_msg(&e), needle), "'%s' lacks '%s'", mr_err_msg(&e), needle);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), base));
    mr_err_release(&e);
}

/* Made, and the lock given back. */
static void assert_made(const char *base)
{
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    ck_assert_msg(mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e) == 0, "%s",
                  mr_err_msg(&e));
    ck_assert_int_ge(fd, 0);
    close(fd);
    free(path);
}

START_TEST(test_workdir_made_locked_and_private_to_us)
{
    char *base = in_top("base/deeper"); /* folders above it are made too */
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    mode_t old = umask(077); /* the modes do not depend on the umask */
    ck_assert_msg(mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e) == 0, "%s",
                  mr_err_msg(&e));
    umask(old);
    char *want = mr_xasprintf("%s/" RUN_ID, base);
    ck_assert_str_eq(path, want);
    struct stat st, fst;
    ck_assert_int_eq(lstat(base, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0711);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 07777, 0711);
    ck_assert_uint_eq(st.st_uid, geteuid());
    ck_assert_int_eq(fstat(fd, &fst), 0);
    ck_assert(fst.st_ino == st.st_ino && fst.st_dev == st.st_dev);
    ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    /* The lock is held: another attempt on the folder fails, and `clean` sees it live. */
    int other = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ck_assert_int_ge(other, 0);
    ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), -1);
    ck_assert_int_eq(errno, EWOULDBLOCK);
    struct mr_leftovers lo = { 0 };
    ck_assert_int_eq(mr_leftover_scan(NULL, base, 0, &lo, &e), 0);
    ck_assert_uint_eq(lo.n_dirs, 0);
    mr_leftovers_release(&lo);
    /* Without the lock the folder is a leftover; no temporary folder is left beside it. */
    close(fd);
    ck_assert_int_eq(flock(other, LOCK_EX | LOCK_NB), 0);
    close(other);
    ck_assert_int_eq(mr_leftover_scan(NULL, base, 0, &lo, &e), 0);
    ck_assert_uint_eq(lo.n_dirs, 1);
    ck_assert_str_eq(lo.dirs[0], path);
    mr_leftovers_release(&lo);
    char *tmp = mr_xasprintf("%s/.new-" RUN_ID, base);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    ck_assert_int_eq(mr_leftover_check_dir(path, &e), 0);
    free(tmp);
    free(want);
    free(path);
    free(base);
    mr_err_release(&e);
}
END_TEST

START_TEST(test_workdir_existing_base_is_kept)
{
    /* A base made earlier (0755 by older versions) is used as it is. */
    char *base = in_top("base");
    ck_assert_int_eq(mkdir(base, 0755), 0);
    ck_assert_int_eq(chmod(base, 0755), 0);
    assert_made(base);
    struct stat st;
    ck_assert_int_eq(stat(base, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0755);
    free(base);
}
END_TEST

START_TEST(test_workdir_refuses_symlink_base)
{
    char *real = in_top("real");
    char *base = in_top("base");
    ck_assert_int_eq(mkdir(real, 0700), 0);
    ck_assert_int_eq(symlink(real, base), 0);
    assert_refused(base, -ELOOP, "is a symbolic link");
    char *made = mr_xasprintf("%s/" RUN_ID, real);
    ck_assert_int_eq(access(made, F_OK), -1);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_leftover_check_dir(base, &e), -ELOOP);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "is a symbolic link"));
    /* `clean` does not list, let alone empty, a base it would refuse to run in. */
    struct mr_leftovers lo = { 0 };
    ck_assert_int_eq(mr_leftover_scan(NULL, base, 0, &lo, &e), -ELOOP);
    mr_err_release(&e);
    free(made);
    free(base);
    free(real);
}
END_TEST

START_TEST(test_workdir_refuses_base_of_another_user)
{
    if (geteuid() != 0)
        return; /* only root can give a folder away */
    char *base = in_top("base");
    ck_assert_int_eq(mkdir(base, 0755), 0);
    ck_assert_int_eq(chown(base, 65534, 65534), 0); /* nobody */
    assert_refused(base, -EPERM, "belongs to uid 65534, not to uid 0 that runs matrixrun");
    free(base);
}
END_TEST

START_TEST(test_workdir_refuses_writable_base)
{
    char *base = in_top("base");
    ck_assert_int_eq(mkdir(base, 0700), 0);
    ck_assert_int_eq(chmod(base, 0775), 0);
    assert_refused(base, -EPERM, "may be written by its group or by others (mode 0775)");
    ck_assert_int_eq(chmod(base, 01777), 0); /* sticky is no excuse for the base itself */
    assert_refused(base, -EPERM, "(mode 1777)");
    free(base);
}
END_TEST

START_TEST(test_workdir_refuses_base_under_writable_folder)
{
    /* Whoever may rename entries above the base could swap the base itself. */
    char *above = in_top("shared");
    char *base = in_top("shared/base");
    ck_assert_int_eq(mkdir(above, 0700), 0);
    ck_assert_int_eq(chmod(above, 0777), 0);
    assert_refused(base, -EPERM, "may be written by others without the sticky bit (mode 0777)");
    ck_assert_int_eq(chmod(above, 01777), 0); /* as /tmp: fine */
    assert_made(base);
    free(base);
    free(above);
}
END_TEST

START_TEST(test_workdir_refuses_existing_run_folder)
{
    char *base = in_top("base");
    char *run = in_top("base/" RUN_ID);
    ck_assert_int_eq(mkdir(base, 0711), 0);
    ck_assert_int_eq(mkdir(run, 0700), 0);
    char *mark = in_top("base/" RUN_ID "/theirs");
    ck_assert_int_eq(mkdir(mark, 0700), 0);
    assert_refused(base, -EEXIST, "work folder '");
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    ck_assert_int_eq(mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e), -EEXIST);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "exists already"));
    /* Left as it was, and no temporary folder beside it. */
    ck_assert_int_eq(access(mark, F_OK), 0);
    char *tmp = in_top("base/.new-" RUN_ID);
    ck_assert_int_eq(access(tmp, F_OK), -1);
    /* Even an empty one, which a plain rename would have replaced. */
    ck_assert_int_eq(rmdir(mark), 0);
    ck_assert_int_eq(mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e), -EEXIST);
    mr_err_release(&e);
    free(tmp);
    free(mark);
    free(run);
    free(base);
}
END_TEST

START_TEST(test_workdir_refuses_bad_names)
{
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    char *base = in_top("base");
    ck_assert_int_eq(mr_leftover_workdir_create(base, "../x", &path, &fd, &e), -EINVAL);
    ck_assert_int_eq(mr_leftover_workdir_create(base, "", &path, &fd, &e), -EINVAL);
    char *file = in_top("file");
    ck_assert_int_eq(close(open(file, O_CREAT | O_WRONLY, 0600)), 0);
    ck_assert_int_eq(mr_leftover_workdir_create(file, RUN_ID, &path, &fd, &e), -ENOTDIR);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "is not a folder"));
    ck_assert_ptr_null(path);
    mr_err_release(&e);
    free(file);
    free(base);
}
END_TEST

START_TEST(test_check_dir_refuses_writable_folder)
{
    char *dir = in_top("ssh");
    ck_assert_int_eq(mkdir(dir, 0700), 0);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_leftover_check_dir(dir, &e), 0);
    ck_assert_int_eq(chmod(dir, 0722), 0);
    ck_assert_int_eq(mr_leftover_check_dir(dir, &e), -EPERM);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "(mode 0722)"));
    mr_err_release(&e);
    free(dir);
}
END_TEST

/* A run whose cells were kept leaves its folder unlocked with a "kept" file: until its
 * time runs out the folder is no leftover (clean leaves it, a later run does not warn);
 * after, it is; MR_LEFTOVER_KEPT counts it whatever its time. */
START_TEST(test_kept_cells_are_leftovers_once_their_time_is_up)
{
    char *base = in_top("base");
    struct mr_err e = { 0 };
    char *path = NULL;
    int fd = -1;
    ck_assert_msg(mr_leftover_workdir_create(base, RUN_ID, &path, &fd, &e) == 0, "%s",
                  mr_err_msg(&e));
    int64_t now = mr_wall_ms() / 1000;
    ck_assert_int_eq(mr_leftover_keep_cell(path, now + 3600, "deb-a", 40022, "root",
                                           "mr-" RUN_ID "-deb-a", "ssh/id_ed25519", &e), 0);
    ck_assert_int_eq(mr_leftover_keep_cell(path, now + 3600, "deb-b", 40023, "debian",
                                           "mr-" RUN_ID "-deb-b", "ssh/id_ed25519", &e), 0);
    close(fd); /* the run ended */
    struct mr_leftovers lo = { 0 };
    ck_assert_int_eq(mr_leftover_scan(NULL, base, 0, &lo, &e), 0);
    ck_assert_uint_eq(lo.n_dirs, 0);
    mr_leftovers_release(&lo);
    ck_assert_int_eq(mr_leftover_scan(NULL, base, MR_LEFTOVER_KEPT, &lo, &e), 0);
    ck_assert_uint_eq(lo.n_dirs, 1);
    mr_leftovers_release(&lo);
    struct mr_kept *k;
    size_t n;
    ck_assert_int_eq(mr_leftover_kept_list(base, &k, &n), 0);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(k[1].cell, "deb-b");
    ck_assert_str_eq(k[1].user, "debian");
    ck_assert_int_eq(k[1].port, 40023);
    ck_assert_int_eq(k[1].until, now + 3600);
    char *cmd = mr_kept_ssh_command(&k[1]);
    char *want = mr_xasprintf("ssh -i %s/ssh/id_ed25519 -p 40023 -o IdentitiesOnly=yes "
                              "-o UserKnownHostsFile=%s/deb-b.known_hosts "
                              "-o StrictHostKeyChecking=yes debian@127.0.0.1", path, path);
    ck_assert_str_eq(cmd, want);
    free(cmd);
    free(want);
    mr_kept_free(k, n);
    /* Its time runs out: a leftover like any other. */
    char *kept = mr_xasprintf("%s/kept", path);
    char *line = mr_xasprintf("until %lld\n", (long long)(now - 1));
    ck_assert_int_eq(mr_file_write_atomic(kept, line, strlen(line), &e), 0);
    ck_assert_int_eq(mr_leftover_scan(NULL, base, 0, &lo, &e), 0);
    ck_assert_uint_eq(lo.n_dirs, 1);
    mr_leftovers_release(&lo);
    free(line);
    free(kept);
    free(path);
    free(base);
    mr_err_release(&e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("leftover");
    TCase *tc = tcase_create("workdir");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_workdir_made_locked_and_private_to_us);
    tcase_add_test(tc, test_workdir_existing_base_is_kept);
    tcase_add_test(tc, test_workdir_refuses_symlink_base);
    tcase_add_test(tc, test_workdir_refuses_base_of_another_user);
    tcase_add_test(tc, test_workdir_refuses_writable_base);
    tcase_add_test(tc, test_workdir_refuses_base_under_writable_folder);
    tcase_add_test(tc, test_workdir_refuses_existing_run_folder);
    tcase_add_test(tc, test_workdir_refuses_bad_names);
    tcase_add_test(tc, test_check_dir_refuses_writable_folder);
    tcase_add_test(tc, test_kept_cells_are_leftovers_once_their_time_is_up);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
