# Turns a file into a C array: cmake -DIN=file -DOUT=file.c -DSYM=name -P EmbedFile.cmake
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE "${OUT}" "/* Generated from ${IN} by cmake/EmbedFile.cmake. */\n#include <stddef.h>\nconst char ${SYM}[] = {\n${body}0x00 };\nconst size_t ${SYM}_len = ${len};\n")
