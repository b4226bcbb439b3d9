/* family.c: the built-in OS family catalogue (see family.h). */
#include "family.h"

#include <stdio.h>
#include <string.h>

/* Families whose install path is not implemented yet are listed so that the matrix
 * parser can tell "unknown family" from "known but not supported yet". */
static const struct mr_family families[] = {
    { "debian", "root", 120, "DEBIAN_FRONTEND=noninteractive dpkg -i '%s'",
      "dpkg-query -W -f='${Version}' '%s'", ".deb" },
    { "ubuntu", "ubuntu", 180, "DEBIAN_FRONTEND=noninteractive sudo -n dpkg -i '%s'",
      "dpkg-query -W -f='${Version}' '%s'", ".deb" },
    { "centos", "centos", 240, NULL, NULL, ".rpm" },
    { "rhel", "cloud-user", 240, NULL, NULL, ".rpm" },
    { "sles", "sles", 300, NULL, NULL, ".rpm" },
    { "windows", "Administrator", 900, NULL, NULL, ".msi" },
};

const struct mr_family *mr_family_find(const char *name)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (strcmp(families[i].name, name) == 0)
            return &families[i];
    return NULL;
}

const char *mr_family_names(void)
{
    /* Derived from the table once, so a new family cannot be missing from messages. */
    static char names[256];
    if (!names[0]) {
        size_t o = 0;
        for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
            o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "",
                                  families[i].name);
    }
    return names;
}
