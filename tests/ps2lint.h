/* ps2lint.h: what the tests hold a script or command for Windows Server 2008 R2 to:
 * nothing that came after PowerShell 2.0, and brackets and quotes that pair up (no
 * PowerShell runs here, so this is the syntax check there is). Header-only, for
 * check_seed and check_family. */
#ifndef MR_TEST_PS2LINT_H
#define MR_TEST_PS2LINT_H

#define _GNU_SOURCE
#include <string.h>

/* Cmdlets and parameters PowerShell 2.0 does not have: LocalAccounts (5.1), DISM's
 * capabilities, NetSecurity (Windows 8 / 2012), CIM (3.0), Expand-Archive (5.0), and
 * Get-Content's -Raw and -Tail (3.0). */
static const char *const ps2_forbidden[] = {
    "Get-LocalUser",        "New-LocalUser",         "Enable-LocalUser",
    "Get-LocalGroupMember", "Add-LocalGroupMember",  "Add-WindowsCapability",
    "Get-NetFirewallRule",  "New-NetFirewallRule",   "Get-CimInstance",
    "Expand-Archive",       "-Raw",                  "-Tail",
};

/* The first of ps2_forbidden in text (as PowerShell reads names: without case), or NULL. */
static inline const char *ps2_first_forbidden(const char *text)
{
    for (size_t i = 0; i < sizeof(ps2_forbidden) / sizeof(ps2_forbidden[0]); i++)
        if (strcasestr(text, ps2_forbidden[i]))
            return ps2_forbidden[i];
    return NULL;
}

/* 0 when (), {} and [] nest and '...' and "..." close in text outside @'...'@ here-strings
 * (whose content is data); else the 1-based line where it goes wrong. */
static inline int ps_unbalanced_line(const char *text)
{
    char stack[256];
    size_t depth = 0;
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            line++;
            continue;
        }
        if (p[0] == '@' && p[1] == '\'' && p[2] == '\n') {
            const char *end = strstr(p + 3, "\n'@");
            if (!end)
                return line;
            for (const char *q = p; q < end; q++)
                line += *q == '\n';
            p = end + 2;
            continue;
        }
        if (*p == '\'' || *p == '"') {
            char q = *p;
            for (p++; *p && *p != '\n'; p++) {
                if (*p == q && p[1] == q) { /* '' or "" inside */
                    p++;
                    continue;
                }
                if (q == '"' && *p == '`' && p[1]) {
                    p++;
                    continue;
                }
                if (*p == q)
                    break;
            }
            if (*p != q)
                return line;
            continue;
        }
        if (*p == '#' && (p == text || p[-1] == '\n' || p[-1] == ' ')) {
            while (p[1] && p[1] != '\n')
                p++;
            continue;
        }
        if (strchr("({[", *p)) {
            if (depth == sizeof(stack))
                return line;
            stack[depth++] = *p == '(' ? ')' : *p == '{' ? '}' : ']';
        } else if (strchr(")}]", *p)) {
            if (!depth || stack[--depth] != *p)
                return line;
        }
    }
    return depth ? line : 0;
}

#endif
