/* main.c: matrixrun's entry point; everything else lives in the mrcore library. */
#include "cli.h"

int main(int argc, char **argv)
{
    return mr_cli_main(argc, argv);
}
