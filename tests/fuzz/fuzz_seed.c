/* fuzz_seed.c: libFuzzer harness for mr_seed_render() with the input as the matrix's
 * extra cloud-config and every other field fixed.
 *
 * Checks: a cloud-init seed always renders (the extra text is the user's, taken as it
 * is, up to its first NUL); its user-data is matrixrun's own part unchanged, then the
 * extra text (without a leading "#cloud-config" line and blank lines), ending in a line
 * break; meta-data and network-config do not depend on the extra text; a
 * cloudbase-init seed with extra cloud-config is refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "fuzz_util.h"
#include "seed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char extra_head[] = "# From the matrix's <cloud-config>:\n";

static struct mr_seed_spec spec(enum mr_seed_kind kind, const char *extra)
{
    return (struct mr_seed_spec){
        .kind = kind,
        .instance_id = "mr-fuzz-0001",
        .hostname = "fuzz-cell",
        .user = "tester",
        .user_pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFuzzFuzzFuzz client@fuzz",
        .host_privkey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
                        "-----END OPENSSH PRIVATE KEY-----\n",
        .host_pubkey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostHostHost host@fuzz",
        .mac = "52:54:00:12:34:56",
        .extra_cloud_config = extra,
        .windows_password = "Pw-0001",
    };
}

static struct mr_seed_files base; /* the seed without extra cloud-config */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct mr_err err = { 0 };
    struct mr_seed_spec s = spec(MR_SEED_CLOUD_INIT, NULL);
    if (mr_seed_render(&s, &base, &err) < 0)
        fz_fail(__FILE__, __LINE__, "base seed", "%s", mr_err_msg(&err));
    return 0;
}

/* What render_cloud_init appends: the text less a "#cloud-config" first line and the
 * blank lines after it. */
static const char *expected_extra(const char *x)
{
    if (strncmp(x, "#cloud-config", 13) == 0)
        x += strcspn(x, "\n");
    while (*x == '\n')
        x++;
    return x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *extra = mr_xstrndup((const char *)data, size);
    struct mr_err err = { 0 };
    struct mr_seed_files f = { 0 };
    struct mr_seed_spec s = spec(MR_SEED_CLOUD_INIT, extra);
    int r = mr_seed_render(&s, &f, &err);
    FZ_CHECK(r == 0, "cloud-init seed refused: %s", mr_err_msg(&err));
    FZ_CHECK(strcmp(f.meta_data, base.meta_data) == 0, "meta-data depends on the extra text");
    FZ_CHECK(f.network_config && strcmp(f.network_config, base.network_config) == 0,
             "network-config depends on the extra text");
    size_t bl = strlen(base.user_data), hl = sizeof(extra_head) - 1;
    FZ_CHECK(strncmp(f.user_data, base.user_data, bl) == 0, "matrixrun's user-data changed");
    FZ_CHECK(strncmp(f.user_data + bl, extra_head, hl) == 0, "no cloud-config heading");
    const char *x = expected_extra(extra), *got = f.user_data + bl + hl;
    size_t xl = strlen(x), gl = strlen(got);
    FZ_CHECK(strncmp(got, x, xl) == 0, "extra text not appended as it is");
    FZ_CHECK(gl == xl + (xl && x[xl - 1] != '\n'), "%zu bytes appended for %zu of extra text",
             gl, xl);
    FZ_CHECK(f.user_data[bl + hl + gl - 1] == '\n', "user-data does not end in a line break");
    mr_seed_files_release(&f);

    s = spec(MR_SEED_CLOUDBASE_INIT, extra);
    r = mr_seed_render(&s, &f, &err);
    FZ_CHECK(r == -EINVAL, "cloudbase-init seed with extra cloud-config: %d", r);
    mr_seed_files_release(&f);
    mr_err_release(&err);
    free(extra);
    return 0;
}
