/* fuzz_seed.c: libFuzzer harness for mr_seed_render() with the input as the matrix's
 * extra cloud-config and every other field fixed, and for mr_seed_check_extra(), the
 * guard that keeps that text from setting what the seed sets itself.
 *
 * Checks: the render takes the text exactly when the guard does; a taken text is
 * appended to matrixrun's own user-data unchanged (without a leading "#cloud-config"
 * line and blank lines), ending in a line break, and meta-data and network-config do not
 * depend on it; a cloudbase-init seed with extra cloud-config is refused. And the
 * guard's promise, judged by libyaml (a YAML 1.1 parser, as cloud-init's PyYAML is):
 * when the whole user-data parses, none of the keys the guard protects appears at its
 * top level more often than matrixrun wrote it (YAML readers keep the last of duplicate
 * keys, so a second one would replace matrixrun's users or host keys). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include <yaml.h>

#include "fuzz_util.h"
#include "seed.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char extra_head[] = "# From the matrix's <cloud-config>:\n";

/* The keys mr_seed_check_extra() keeps out of the extra text (seed.c's list). */
static const char *const guarded[] = {
    "users", "user", "ssh_keys", "ssh_authorized_keys", "ssh_deletekeys", "ssh_genkeytypes",
    "disable_root", "hostname", "fqdn", "manage_etc_hosts", "ssh_pwauth", "chpasswd",
    "password", "system_info",
};
#define N_GUARDED (sizeof(guarded) / sizeof(guarded[0]))

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
static unsigned base_count[N_GUARDED];

/* Counts the guarded keys among the top-level keys of the one document in text (a key
 * spelled as an alias is not resolved: the guard refuses aliases). Returns 0, or -1 when
 * libyaml cannot read the text as one document with a mapping at its root: then
 * cloud-init cannot read the user-data either, and it sets nothing at all. */
static int count_keys(const char *text, unsigned count[N_GUARDED])
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int depth = 0, docs = 0, r = 0;
    size_t node = 0; /* nodes finished in the root mapping: keys are the even ones */
    memset(count, 0, N_GUARDED * sizeof(count[0]));
    if (!yaml_parser_initialize(&parser))
        abort();
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    for (int done = 0; !done && r == 0;) {
        if (!yaml_parser_parse(&parser, &ev))
            return yaml_parser_delete(&parser), -1;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            r = ++docs > 1 ? -1 : 0;
            break;
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth++ == 0 && ev.type != YAML_MAPPING_START_EVENT)
                r = -1;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            node += --depth == 1;
            break;
        case YAML_SCALAR_EVENT:
            for (size_t i = 0; depth == 1 && node % 2 == 0 && i < N_GUARDED; i++)
                if (strlen(guarded[i]) == ev.data.scalar.length &&
                    memcmp(guarded[i], ev.data.scalar.value, ev.data.scalar.length) == 0)
                    count[i]++;
            node += depth == 1;
            break;
        case YAML_ALIAS_EVENT:
            node += depth == 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    return r;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    struct mr_err err = { 0 };
    struct mr_seed_spec s = spec(MR_SEED_CLOUD_INIT, NULL);
    if (mr_seed_render(&s, &base, &err) < 0)
        fz_fail(__FILE__, __LINE__, "base seed", "%s", mr_err_msg(&err));
    if (count_keys(base.user_data, base_count) < 0)
        fz_fail(__FILE__, __LINE__, "base seed", "libyaml cannot read the seed's own user-data");
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

static void check_rendered(const struct mr_seed_files *f, const char *extra)
{
    FZ_CHECK(strcmp(f->meta_data, base.meta_data) == 0, "meta-data depends on the extra text");
    FZ_CHECK(f->network_config && strcmp(f->network_config, base.network_config) == 0,
             "network-config depends on the extra text");
    size_t bl = strlen(base.user_data), hl = sizeof(extra_head) - 1;
    FZ_CHECK(strncmp(f->user_data, base.user_data, bl) == 0, "matrixrun's user-data changed");
    FZ_CHECK(strncmp(f->user_data + bl, extra_head, hl) == 0, "no cloud-config heading");
    const char *x = expected_extra(extra), *got = f->user_data + bl + hl;
    size_t xl = strlen(x), gl = strlen(got);
    FZ_CHECK(strncmp(got, x, xl) == 0, "extra text not appended as it is");
    FZ_CHECK(gl == xl + (xl && x[xl - 1] != '\n'), "%zu bytes appended for %zu of extra text",
             gl, xl);
    FZ_CHECK(f->user_data[bl + hl + gl - 1] == '\n', "user-data does not end in a line break");
    unsigned count[N_GUARDED];
    if (count_keys(f->user_data, count) < 0)
        return;
    for (size_t i = 0; i < N_GUARDED; i++)
        FZ_CHECK(count[i] <= base_count[i], "the extra text sets '%s' (%u times at the top "
                 "level, matrixrun wrote it %u times)", guarded[i], count[i], base_count[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *extra = mr_xstrndup((const char *)data, size);
    struct mr_err err = { 0 }, check_err = { 0 };
    struct mr_seed_files f = { 0 };
    int line = 0;
    int c = mr_seed_check_extra(extra, &line, &check_err);
    struct mr_seed_spec s = spec(MR_SEED_CLOUD_INIT, extra);
    int r = mr_seed_render(&s, &f, &err);
    FZ_CHECK((r == 0) == (c == 0), "render %d, check %d (%s)", r, c, mr_err_msg(&check_err));
    if (c < 0)
        FZ_CHECK(line >= 1 && check_err.msg, "refused without a line (%d) or message", line);
    if (r == 0)
        check_rendered(&f, extra);
    mr_seed_files_release(&f);
    mr_err_release(&err);

    s = spec(MR_SEED_CLOUDBASE_INIT, extra);
    r = mr_seed_render(&s, &f, &err);
    FZ_CHECK(r == -EINVAL, "cloudbase-init seed with extra cloud-config: %d", r);
    mr_seed_files_release(&f);
    mr_err_release(&err);
    mr_err_release(&check_err);
    free(extra);
    return 0;
}
