/* report_write.c: writes a run's report folder: the JUnit file, then the HTML summary
 * read back from it. */
#include "report_write.h"

#include "html.h"
#include "junit.h"

int mr_report_write_outputs(const struct mr_report *r, const char *outdir,
                            char **ret_junit_path, struct mr_err *warn, struct mr_err *err)
{
    _cleanup_free_ char *junit = mr_xasprintf("%s/" MR_REPORT_JUNIT_FILE, outdir);
    int ret = mr_junit_write(r, junit, err);
    if (ret < 0)
        return ret;
    /* From the file, not from r: the page shows what CI and `matrixrun compare` will
     * read, and a junit.xml that cannot be read back is found out here. */
    _cleanup_free_ char *html = mr_xasprintf("%s/" MR_REPORT_HTML_FILE, outdir);
    ret = mr_html_write_run(junit, html, warn) < 0 ? 1 : 0;
    if (ret_junit_path)
        *ret_junit_path = MR_TAKE_PTR(junit);
    return ret;
}
