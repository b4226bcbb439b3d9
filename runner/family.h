/* family.h: the catalogue of guest OS families: how each installs a local package
 * artifact, how it reports the installed version, its default user and boot hint.
 * All strings are static and borrowed. */
#ifndef MR_FAMILY_H
#define MR_FAMILY_H

struct mr_family {
    const char *name;
    const char *default_user;
    unsigned boot_timeout_hint_s;
    /* printf templates with %s = remote artifact path; NULL when this version of
     * matrixrun cannot install on the family yet. */
    const char *install_cmd;
    /* printf template with %s = package name; prints the installed version. */
    const char *version_cmd;
    /* File suffix of the artifact as uploaded, e.g. ".deb". */
    const char *artifact_suffix;
};

/* The family called name, or NULL. */
const struct mr_family *mr_family_find(const char *name);
/* "debian, ubuntu, ..." for messages; static. */
const char *mr_family_names(void);

#endif
