/* cli.h: the command line: a verb table with thin handlers. The only module that prints. */
#ifndef MR_CLI_H
#define MR_CLI_H

/* Exit codes (contract). */
enum {
    MR_EXIT_OK = 0,
    MR_EXIT_TEST_FAILED = 1,
    MR_EXIT_USAGE = 2,
    MR_EXIT_INFRA = 3,
};

int mr_cli_main(int argc, char **argv);

#endif
